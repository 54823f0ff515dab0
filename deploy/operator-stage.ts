import { config as loadDotenv } from 'dotenv';
import type { Env } from '../src/env';
import { readAppSettings, type AppSettings } from './app-settings';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS module, shared with serverless.yml
const { readStageFile } = require('./stage-file') as {
  readStageFile: (stage: string, env?: Env) => { region?: string; params?: Record<string, string> };
};

/** A deployed stage as the operator's commands reach it. */
export interface OperatorStage {
  readonly region: string;
  /** GitHub's REST API for the stage: GHES when a host is set, else api.github.com. */
  readonly apiBaseUrl: string;
  /** The stage's remembered deploy parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** The App's settings from `.env`, as Probot's setup flow wrote them. */
  readonly app: AppSettings;
}

/**
 * What `deploy:secrets`, `deploy:webhook-url` and `status` need of a stage: its region and GHES
 * host from `deploy/stages/<stage>.json` (a `--region` or `GHE_HOST` given wins), and the App's
 * settings from the env file.
 */
export function readOperatorStage(
  stage: string,
  options: { envFile: string; region?: string; env?: Env },
): OperatorStage {
  const env = withEnvFile(options.env ?? process.env, options.envFile);
  const saved = readStageFile(stage, env);
  const params = saved.params ?? {};
  return {
    region: options.region ?? saved.region ?? env.AWS_REGION ?? 'us-east-1',
    apiBaseUrl: apiBaseUrl(env.GHE_HOST ?? params.gheHost, env.GHE_PROTOCOL ?? params.gheProtocol),
    params,
    app: readAppSettings(env),
  };
}

/** The environment with the env file's settings added; AWS_DEFAULT_REGION stands in for AWS_REGION. */
function withEnvFile(base: Env, file: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base };
  loadDotenv({ path: file, processEnv: env, quiet: true } as Parameters<typeof loadDotenv>[0]);
  env.AWS_REGION ??= env.AWS_DEFAULT_REGION;
  return env;
}

function apiBaseUrl(host: string | undefined, protocol = 'https'): string {
  return host ? `${protocol}://${host}/api/v3` : 'https://api.github.com';
}
