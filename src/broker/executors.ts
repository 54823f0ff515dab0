import { StartBuildCommand, type CodeBuildClient } from '@aws-sdk/client-codebuild';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { DispatchError } from '../errors';
import type { RunnerProfile } from '../profiles';
import type { Sealed } from '../seal';
import type { RunnerPayload } from '../../runner/runner-payload';

/**
 * Starts the runner for one sealed payload; resolves once the start is handed off. What starts
 * it is the profile's executor kind. The broker's registration and the webhook know nothing of
 * it, so a new kind (CodeBuild, for jobs past 15 minutes or that need Docker) is one more entry
 * in the broker's executor table and a `executor` value in the profile.
 */
export type Executor = (payload: Sealed<RunnerPayload>, profile: RunnerProfile) => Promise<void>;

/** Executor kinds by name, as a profile's `executor` field names them (default `lambda`). */
export type Executors = Readonly<Record<string, Executor>>;

/**
 * The runner Lambda, invoked asynchronously (`InvocationType: 'Event'`). Its destinations
 * (on success and on failure) bring the payload back to the broker when the runner ends.
 */
export function createLambdaExecutor({ lambda }: { lambda: Pick<LambdaClient, 'send'> }): Executor {
  return async (payload, profile) => {
    let status: number | undefined;
    try {
      const output = await lambda.send(
        new InvokeCommand({
          FunctionName: profile.functionName,
          // A version of its own (isolation `version`), else the function's shared environments.
          ...(payload.functionVersion ? { Qualifier: payload.functionVersion } : {}),
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
      status = output.StatusCode;
    } catch (error) {
      throw new DispatchError(
        `lambda-runner: invoking ${profile.functionName} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (status !== 202) {
      throw new DispatchError(`lambda-runner: invoking ${profile.functionName} answered ${status}`);
    }
  };
}

/** The executor a profile names; throws for a kind this broker does not have. */
export function executorFor(executors: Executors, profile: RunnerProfile): Executor {
  const kind = profile.executor ?? 'lambda';
  const executor = executors[kind];
  if (!executor) {
    throw new DispatchError(
      `lambda-runner: profile "${profile.name}" names executor "${kind}", which this broker does not have (${Object.keys(executors).join(', ')})`,
    );
  }
  return executor;
}

/** The build variable that carries the sealed payload into a CodeBuild build. */
export const BUILD_PAYLOAD_VARIABLE = 'LAMBDA_RUNNER_PAYLOAD';
/** The build variable that tells the runner entry how long the build may run. */
export const BUILD_TIMEOUT_VARIABLE = 'LAMBDA_RUNNER_TIMEOUT_SECONDS';

/**
 * A CodeBuild build of the profile's project, one per runner: a fresh environment for one job,
 * up to the project's timeout (8 hours), with Docker where the project is privileged. The
 * sealed payload travels as a build variable; the build's state change event (EventBridge)
 * carries it back to the broker when the build ends. The variable is readable by anyone allowed
 * `codebuild:BatchGetBuilds` on the project, which the job role is explicitly denied.
 * The runner name is the idempotency token: a start retried within CodeBuild's window starts
 * no second build.
 */
export function createCodeBuildExecutor({
  codebuild,
}: {
  codebuild: Pick<CodeBuildClient, 'send'>;
}): Executor {
  return async (payload, profile) => {
    const projectName = profile.projectName ?? '';
    const timeoutSeconds = (profile.timeoutMinutes ?? 60) * 60;
    let started;
    try {
      started = await codebuild.send(
        new StartBuildCommand({
          projectName,
          idempotencyToken: payload.runnerName,
          environmentVariablesOverride: [
            { name: BUILD_PAYLOAD_VARIABLE, value: JSON.stringify(payload), type: 'PLAINTEXT' },
            { name: BUILD_TIMEOUT_VARIABLE, value: String(timeoutSeconds), type: 'PLAINTEXT' },
          ],
        }),
      );
    } catch (error) {
      throw new DispatchError(
        `lambda-runner: starting a build of ${projectName} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!started.build?.id) {
      throw new DispatchError(`lambda-runner: CodeBuild started no build of ${projectName}`);
    }
  };
}
