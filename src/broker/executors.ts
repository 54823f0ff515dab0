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
