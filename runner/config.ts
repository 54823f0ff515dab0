import { ConfigError } from '../src/errors';
import { createEnvReader, isLambda, type Env, type EnvReader } from '../src/env';
import { SecretSource } from '../src/secret-source';

export interface RunnerConfig {
  /** App id and private key: direct values, or a Secrets Manager JSON `{"appId","privateKey"}`. */
  readonly appCredentials:
    { readonly appId: string; readonly privateKey: SecretSource } | { readonly json: SecretSource };
  /** REST API base: api.github.com, or `<proto>://<GHE_HOST>/api/v3` for GitHub Enterprise Server. */
  readonly apiBaseUrl: string;
  /** Where runners register: `https://github.com`, or the GHES web URL. */
  readonly webBaseUrl: string;
  readonly scope: 'repo' | 'org';
  readonly group: string;
  readonly registration: 'jit' | 'token';
  readonly layout: 'link' | 'copy';
  readonly sourceDir: string;
  readonly workRoot: string;
  readonly idleTimeoutMs: number;
  readonly deadlineMarginMs: number;
  readonly stopGraceMs: number;
  /** True inside Lambda: the container is ours alone, so every stray process and all of the work root go. */
  readonly ownsContainer: boolean;
  readonly logLevel: string;
  /** When set, jobs get this role's credentials instead of the function's own. */
  readonly jobRoleArn?: string;
}

/**
 * Parses and validates the runner side's environment once per container; reports every
 * problem in one {@link ConfigError}. Secrets are held as masked sources, never as strings.
 */
export function loadRunnerConfig(env: Env = process.env): RunnerConfig {
  const read = createEnvReader(env);
  const config: RunnerConfig = {
    appCredentials: appCredentials(read),
    ...gitHubUrls(read),
    scope: read.oneOf('RUNNER_SCOPE', ['repo', 'org'], 'repo'),
    group: read.text('RUNNER_GROUP', 'Default'),
    registration: read.oneOf('RUNNER_REGISTRATION', ['jit', 'token'], 'jit'),
    layout: read.oneOf('RUNNER_LAYOUT', ['link', 'copy'], 'link'),
    sourceDir: read.text('RUNNER_SOURCE_DIR', '/opt/actions-runner'),
    workRoot: read.text('RUNNER_WORK_ROOT', '/tmp'),
    idleTimeoutMs: read.int('RUNNER_IDLE_TIMEOUT_SECONDS', 60, 1) * 1000,
    deadlineMarginMs: read.int('RUNNER_DEADLINE_MARGIN_SECONDS', 60) * 1000,
    stopGraceMs: read.int('RUNNER_STOP_GRACE_SECONDS', 10) * 1000,
    ownsContainer: read.bool('RUNNER_OWNS_CONTAINER', isLambda(env)),
    logLevel: read.text('LOG_LEVEL', 'info'),
    jobRoleArn: read.string('JOB_ROLE_ARN'),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

function appCredentials(read: EnvReader): RunnerConfig['appCredentials'] {
  const secretId = read.string('GITHUB_APP_SECRET_ARN');
  if (secretId) return { json: SecretSource.fromSecretsManager(secretId) };
  const appId = read.text('APP_ID', '');
  const privateKey = read.text('PRIVATE_KEY', '');
  if (!appId || !privateKey) {
    read.problems.push('APP_ID and PRIVATE_KEY, or GITHUB_APP_SECRET_ARN, are required');
  }
  return { appId, privateKey: SecretSource.fromValue(privateKey) };
}

/** github.com, or GitHub Enterprise Server at `GHE_HOST` (Probot's variable names). */
function gitHubUrls(read: EnvReader): Pick<RunnerConfig, 'apiBaseUrl' | 'webBaseUrl'> {
  const host = read.string('GHE_HOST');
  const protocol = read.oneOf('GHE_PROTOCOL', ['https', 'http'], 'https');
  if (!host) return { apiBaseUrl: 'https://api.github.com', webBaseUrl: 'https://github.com' };
  return { apiBaseUrl: `${protocol}://${host}/api/v3`, webBaseUrl: `${protocol}://${host}` };
}
