import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Logger } from 'pino';
import { DispatchError } from './errors';
import type { RunnerProfile } from './profiles';
import type { RunnerRequest } from './runner-request';

/** Starts a runner for one request; resolves once the start is handed off, not when the job ends. */
export type Dispatch = (request: RunnerRequest, profile: RunnerProfile) => Promise<void>;

/**
 * Dispatches by an asynchronous Lambda invoke (`InvocationType: 'Event'`): Lambda queues the
 * event and answers 202 at once, so the webhook answers GitHub well inside its 10 s.
 */
export function createLambdaDispatch({ lambda }: { lambda: Pick<LambdaClient, 'send'> }): Dispatch {
  return async (request, profile) => {
    let status: number | undefined;
    try {
      const output = await lambda.send(
        new InvokeCommand({
          FunctionName: profile.functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(request)),
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

/**
 * Dispatches in-process (`npm start`, local mode): the runner executor runs on this host in the
 * background; its outcome is logged when it ends.
 */
export function createLocalDispatch({
  run,
  log,
}: {
  run: (request: RunnerRequest) => Promise<unknown>;
  log: Logger;
}): Dispatch {
  return async (request) => {
    const fields = { deliveryId: request.deliveryId, jobId: request.jobId };
    run(request).then(
      (result) => log.info({ ...fields, result }, 'local runner finished'),
      (error: unknown) => log.error({ ...fields, err: error }, 'local runner failed'),
    );
  };
}
