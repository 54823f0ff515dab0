import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createRunnerHandler } from '../runner/handler';

/**
 * The runner as `serverless offline` runs it. Lambda delivers a runner's destination record
 * (on success and on failure) to the broker; serverless offline delivers none, so this wrapper
 * does it the way Lambda would: an asynchronous invoke of the broker with the record. Only the
 * local stack uses it; the deployed runner image has the plain handler.
 */
const runner = createRunnerHandler();
const lambda = new LambdaClient({});

export async function handler(
  event: unknown,
  context: { getRemainingTimeInMillis(): number; functionName?: string },
) {
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
    const result = await runner(event, context);
    await deliver('Success', result);
    return result;
  } catch (error) {
    await deliver('RetriesExhausted', { errorMessage: (error as Error).message });
    throw error;
  }
}
