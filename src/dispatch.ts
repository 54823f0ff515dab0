import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { DispatchError } from './errors';
import type { RunnerProfile } from './profiles';
import type { RunnerRequest } from './runner-request';
import { seal } from './seal';

/** Hands one queued job to the broker; resolves once it is handed off, not when the job ends. */
export type Dispatch = (request: RunnerRequest, profile: RunnerProfile) => Promise<void>;

/**
 * Hands the job to the broker Lambda by an asynchronous invoke (`InvocationType: 'Event'`):
 * Lambda queues the event and answers 202 at once, so the webhook answers GitHub well inside
 * its 10 s. The request is sealed with the key derived from the webhook secret, so the broker
 * can tell it from one a job forged with the runner's role.
 */
export function createLambdaDispatch({
  lambda,
  functionName,
  sealKey,
}: {
  lambda: Pick<LambdaClient, 'send'>;
  functionName: string;
  sealKey: Buffer;
}): Dispatch {
  return async (request) => {
    let status: number | undefined;
    try {
      const output = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(seal(request, sealKey))),
        }),
      );
      status = output.StatusCode;
    } catch (error) {
      throw new DispatchError(
        `lambda-runner: invoking the broker ${functionName} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (status !== 202) {
      throw new DispatchError(
        `lambda-runner: invoking the broker ${functionName} answered ${status}`,
      );
    }
  };
}

/**
 * Hands the job to the broker through its dispatch queue (as deployed): resolves once SQS has
 * stored the sealed request, so the webhook answers GitHub 202 only for a job that will reach a
 * broker; a store that fails is a {@link DispatchError}, answered 503 for GitHub to redeliver.
 * The job waits in the queue, not in a running function, until a broker takes it.
 */
export function createQueueDispatch({
  sqs,
  queueUrl,
  sealKey,
}: {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  sealKey: Buffer;
}): Dispatch {
  return async (request) => {
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(seal(request, sealKey)),
        }),
      );
    } catch (error) {
      throw new DispatchError(
        `lambda-runner: the dispatch queue did not take the job: ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
}

/**
 * Local mode (`npm start`): the broker runs in this process, and so do the runners it starts.
 * The job's outcome is logged when the broker is done with it.
 */
export function createLocalDispatch({
  broker,
  sealKey,
  log,
}: {
  broker: (event: unknown) => Promise<unknown>;
  sealKey: Buffer;
  log: Logger;
}): Dispatch {
  return async (request) => {
    const fields = { deliveryId: request.deliveryId, jobId: request.jobId };
    broker(seal(request, sealKey)).then(
      (result) => log.info({ ...fields, result }, 'local broker finished the dispatch'),
      (error: unknown) => log.error({ ...fields, err: error }, 'local broker failed'),
    );
  };
}
