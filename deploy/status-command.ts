import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { config as loadDotenv } from 'dotenv';
import type { Env } from '../src/env';
import { readAppSettings } from './app-settings';
import { runStatus } from './status';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS modules, shared with serverless.yml
const { readStageFile } = require('./stage-file') as {
  readStageFile: (stage: string, env?: Env) => { region?: string; params?: Record<string, string> };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const { stageRouting } = require('./routing') as {
  stageRouting: (stage: string, env?: Env) => { env: { RUNNER_PROFILES: string } };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const RELEASE = require('./runner-release.json') as { version: string };

/**
 * `lambda-runner status --stage S`: the stage's region and GHES host from its stage file, the
 * App's settings from `.env` (as the deploy helpers read them), then the status screen.
 */
export async function statusCommand(
  stage: string,
  envFile: string,
  print: (line: string) => void,
  env: Env = process.env,
): Promise<number> {
  const saved = readStageFile(stage, env);
  const merged: Record<string, string | undefined> = { ...env };
  loadDotenv({ path: envFile, processEnv: merged, quiet: true } as Parameters<
    typeof loadDotenv
  >[0]);
  const settings = readAppSettings(merged);
  const region = saved.region ?? env.AWS_REGION ?? 'us-east-1';
  const params = saved.params ?? {};
  const baseUrl = apiBaseUrl(params);
  const auth = createAppAuth({ appId: settings.appId, privateKey: settings.privateKey });
  const { token } = await auth({ type: 'app' });
  return runStatus(
    {
      stage,
      app: new Octokit({ baseUrl, auth: token }),
      installation: (id) =>
        new Octokit({
          baseUrl,
          authStrategy: createAppAuth,
          auth: { ...settings, installationId: id },
        }),
      publicGitHub: new Octokit(),
      cloudFormation: new CloudFormationClient({ region }),
      sqs: new SQSClient({ region }),
      cloudWatch: new CloudWatchClient({ region }),
      runnerVersion: params.runnerVersion || RELEASE.version,
      runnerFunctions: stageRunnerFunctions(stage, env),
    },
    print,
  );
}

/** GitHub's API for the stage: GHES when the stage names a host. */
function apiBaseUrl({ gheHost, gheProtocol = 'https' }: Record<string, string>): string {
  return gheHost ? `${gheProtocol}://${gheHost}/api/v3` : 'https://api.github.com';
}

/** The stage's runner functions, from the same profile list the template is made of. */
function stageRunnerFunctions(stage: string, env: Env): string[] {
  const profiles = JSON.parse(stageRouting(stage, env).env.RUNNER_PROFILES) as {
    functionName: string;
  }[];
  return profiles.map((profile) => profile.functionName);
}
