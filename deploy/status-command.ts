import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import type { Env } from '../src/env';
import { readOperatorStage } from './operator-stage';
import { runStatus } from './status';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS modules, shared with serverless.yml
const { stageRouting } = require('./routing') as {
  stageRouting: (stage: string, env?: Env) => { env: { RUNNER_PROFILES: string } };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const RELEASE = require('./runner-release.json') as { version: string };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const { readStageFile } = require('./stage-file') as {
  readStageFile: (
    stage: string,
    env: Env,
  ) => {
    region?: string;
    runnerRelease?: { version: string };
  };
};

/**
 * `lambda-runner status --stage S`: the stage's region and GHES host from its stage file, the
 * App's settings from `.env` (as the deploy helpers read them), then the status screen.
 */
export async function statusCommand(
  stage: string,
  envFile: string,
  print: (line: string) => void,
  env: Env = process.env,
  regionOption?: string,
): Promise<number> {
  const saved = readStageFile(stage, env);
  // The region is the stage file's or the one asked for: a guess would report on nothing.
  const known = regionOption ?? saved.region;
  if (!known) {
    print(`lambda-runner ${stage}:`);
    print(
      `✘ stack: stage ${stage} has no deploy/stages/${stage}.json here, so its region is unknown`,
    );
    print(
      `    what to do: run status from the checkout that deployed it, or name the region: lambda-runner status --stage ${stage} --region <region>`,
    );
    return 1;
  }
  const {
    region,
    apiBaseUrl: baseUrl,
    params,
    app,
  } = readOperatorStage(stage, {
    envFile,
    env,
    region: known,
  });
  const auth = createAppAuth({ appId: app.appId, privateKey: app.privateKey });
  const { token } = await auth({ type: 'app' });
  return runStatus(
    {
      stage,
      region,
      app: new Octokit({ baseUrl, auth: token }),
      installation: (id) =>
        new Octokit({
          baseUrl,
          authStrategy: createAppAuth,
          auth: { ...app, installationId: id },
        }),
      publicGitHub: new Octokit(),
      cloudFormation: new CloudFormationClient({ region }),
      sqs: new SQSClient({ region }),
      cloudWatch: new CloudWatchClient({ region }),
      // The release the stage's images were built from: its lock, else what it pinned.
      runnerVersion: saved.runnerRelease?.version || params.runnerVersion || RELEASE.version,
      ...stageRunners(stage, env),
      codebuild: new CodeBuildClient({ region }),
    },
    print,
  );
}

/** The stage's runner functions and build projects, from the profile list the template is made of. */
function stageRunners(stage: string, env: Env) {
  const profiles = JSON.parse(stageRouting(stage, env).env.RUNNER_PROFILES) as {
    functionName?: string;
    projectName?: string;
  }[];
  return {
    runnerFunctions: profiles.flatMap((profile) => profile.functionName ?? []),
    buildProjects: profiles.flatMap((profile) => profile.projectName ?? []),
  };
}
