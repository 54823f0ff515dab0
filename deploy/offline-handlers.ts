import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pino from 'pino';
import { toDeadLetter, type DeadLetters } from '../src/broker/dead-letters';
import { createBrokerHandler } from '../src/broker/handler';
import { isQueueEvent } from '../src/broker/queue-events';
import { beforeDeadline } from '../src/deadline';
import { createRunnerHandler } from '../runner/handler';

/**
 * The broker and the runner as `serverless offline` runs them (the local stack). Two things
 * Lambda does that serverless offline does not: it delivers a runner's destination record
 * (on success and on failure) to the broker, and it keeps a failed asynchronous event
 * (retries, then the dead-letter queue) instead of ending the whole process. These wrappers
 * do both the way Lambda would. The deployed functions use the plain handlers.
 */
/** The broker's dead-letter queue, as files in a directory (`OFFLINE_DEAD_LETTER_DIR`). */
function directoryDeadLetters(dir: string): DeadLetters {
  mkdirSync(dir, { recursive: true });
  const put = (body: unknown) =>
    writeFileSync(path.join(dir, `${Date.now()}-${randomUUID()}.json`), JSON.stringify(body));
  return {
    async receive(max) {
      return readdirSync(dir)
        .sort()
        .slice(0, max)
        .map((name) => toDeadLetter(name, readFileSync(path.join(dir, name), 'utf8')));
    },
    async remove(letter) {
      rmSync(path.join(dir, letter.handle), { force: true });
    },
    async requeue(letter) {
      put({ event: letter.event, replays: letter.replays + 1 });
      rmSync(path.join(dir, letter.handle), { force: true });
    },
  };
}

const log = pino({ level: process.env.LOG_LEVEL?.trim() || 'info' });
const lambda = new LambdaClient({});
const sqs = new SQSClient({});
const deadLetterDir = process.env.OFFLINE_DEAD_LETTER_DIR;
const brokerHandler = createBrokerHandler(
  deadLetterDir ? { deadLetters: directoryDeadLetters(deadLetterDir) } : {},
);
const runnerHandler = createRunnerHandler();

type Context = { getRemainingTimeInMillis(): number; functionName?: string };

/** How long before the function's timeout the broker gives its event up. */
const BROKER_GIVE_UP_MS = 30_000;

export async function broker(event: unknown, context?: Context) {
  try {
    // The local stack runs serverless offline without its own timeout (which would drop the
    // event, where Lambda retries it and then keeps it in the dead-letter queue): the broker
    // keeps its deadline here, a quarter of the timeout early (30 s of the broker's 120), so a
    // worker thread that a loaded machine starves still gives its event to the dead letters.
    return await beforeDeadline(
      brokerHandler(event),
      context?.getRemainingTimeInMillis(),
      BROKER_GIVE_UP_MS,
      () => new Error('Task timed out (the broker ran out of time)'),
    );
  } catch (error) {
    // A batch from a queue: the function's error leaves every message in the queue, as Lambda's
    // event source mapping does.
    if (isQueueEvent(event)) throw error;
    // In Lambda: two retries, then the broker's dead-letter queue, as an on-failure record.
    log.error({ err: error, offline: 'dead-letter' }, 'broker event failed');
    if (deadLetterDir) {
      writeFileSync(
        path.join(deadLetterDir, `${Date.now()}-${randomUUID()}.json`),
        JSON.stringify({
          requestContext: { condition: 'RetriesExhausted' },
          requestPayload: event,
          responsePayload: { errorMessage: (error as Error).message },
        }),
      );
    }
    return { result: 'failed', error: (error as Error).message };
  }
}

/**
 * Where Lambda would deliver a runner's destination record: the settle queue, when the local
 * stack runs an SQS of its own (`OFFLINE_SETTLE_QUEUE_URL`), else the broker, invoked.
 */
function deliverRecord(record: unknown) {
  const body = JSON.stringify(record);
  const queueUrl = process.env.OFFLINE_SETTLE_QUEUE_URL;
  if (queueUrl) return sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  return lambda.send(
    new InvokeCommand({
      FunctionName: process.env.OFFLINE_BROKER_FUNCTION_NAME ?? '',
      InvocationType: 'Event',
      Payload: Buffer.from(body),
    }),
  );
}

export async function runner(event: unknown, context: Context) {
  const deliver = (condition: string, responsePayload: unknown) =>
    deliverRecord({
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
    });
  try {
    const result = await runnerHandler(event, context);
    await deliver('Success', result);
    return result;
  } catch (error) {
    await deliver('RetriesExhausted', { errorMessage: (error as Error).message });
    return { errorMessage: (error as Error).message };
  }
}
