import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import pino from 'pino';
import { createBrokerHandler } from '../src/broker/handler';
import { createRunnerHandler } from '../runner/handler';

/**
 * The broker and the runner as `serverless offline` runs them (the local stack). Two things
 * Lambda does that serverless offline does not: it delivers a runner's destination record
 * (on success and on failure) to the broker, and it keeps a failed asynchronous event
 * (retries, then the dead-letter queue) instead of ending the whole process. These wrappers
 * do both the way Lambda would. The deployed functions use the plain handlers.
 */
const log = pino({ level: process.env.LOG_LEVEL?.trim() || 'info' });
const lambda = new LambdaClient({});
const brokerHandler = createBrokerHandler();
const runnerHandler = createRunnerHandler();

type Context = { getRemainingTimeInMillis(): number; functionName?: string };

export async function broker(event: unknown) {
  try {
    return await brokerHandler(event);
  } catch (error) {
    // In Lambda: two retries, then the broker's dead-letter queue.
    log.error({ err: error, offline: 'dead-letter' }, 'broker event failed');
    return { result: 'failed', error: (error as Error).message };
  }
}

export async function runner(event: unknown, context: Context) {
  const deliver = (condition: string, responsePayload: unknown) =>
    lambda.send(
      new InvokeCommand({
        FunctionName: process.env.OFFLINE_BROKER_FUNCTION_NAME ?? '',
        InvocationType: 'Event',
        Payload: Buffer.from(
          JSON.stringify({
            version: '1.0',
            timestamp: new Date().toISOString(),
            requestContext: {
              condition,
              functionArn: context.functionName,
              approximateInvokeCount: 1,
            },
            requestPayload: event,
            responseContext: { statusCode: 200 },
            responsePayload,
          }),
        ),
      }),
    );
  try {
    const result = await runnerHandler(event, context);
    await deliver('Success', result);
    return result;
  } catch (error) {
    await deliver('RetriesExhausted', { errorMessage: (error as Error).message });
    return { errorMessage: (error as Error).message };
  }
}
