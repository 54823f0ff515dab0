import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { parseJson } from '../json';
import { RateLimitedError } from './errors';

/** One message of an SQS event source mapping's batch, as Lambda hands it over. */
export interface QueueRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
}

export interface QueueEvent {
  readonly Records: readonly QueueRecord[];
}

/** What the mapping deletes and what it leaves (ReportBatchItemFailures). */
export interface BatchAnswer {
  readonly batchItemFailures: { itemIdentifier: string }[];
}

/** A batch from an SQS queue (the settle queue), told apart without reading the bodies. */
export function isQueueEvent(event: unknown): event is QueueEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every(
      (record: unknown) =>
        typeof record === 'object' &&
        record !== null &&
        (record as { eventSource?: unknown }).eventSource === 'aws:sqs' &&
        typeof (record as { body?: unknown }).body === 'string',
    )
  );
}

/**
 * A queue's URL for its ARN: the one of `known` (the broker's own queues) that ends with its
 * account and name, else `https://sqs.<region>.amazonaws.com/<account>/<name>`.
 */
export function queueUrlOf(arn: string, known: readonly string[] = []): string | undefined {
  const match = /^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):(.+)$/.exec(arn);
  if (!match) return undefined;
  const path = `/${match[2]}/${match[3]}`;
  return known.find((url) => url.endsWith(path)) ?? `https://sqs.${match[1]}.amazonaws.com${path}`;
}

export interface QueueDeps {
  readonly log: Logger;
  readonly sqs?: Pick<SQSClient, 'send'>;
  /** The broker's queues by URL (its configuration), for the messages it hides. */
  readonly queueUrls?: readonly string[];
  readonly now?: () => number;
}

/** SQS keeps a message invisible at most 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Handles a batch: each message's body (JSON) goes to `handle`, all at once. A message whose
 * handling throws stays in the queue (a batch item failure), to come back after its visibility
 * timeout and, past the queue's receive limit, to go to the dead-letter queue; one that GitHub
 * asked to wait comes back when the wait ends, not before. A body that is not JSON is refused
 * with a log line and deleted: no retry makes it readable.
 */
export async function handleQueueEvent(
  event: QueueEvent,
  handle: (body: unknown) => Promise<unknown>,
  deps: QueueDeps,
): Promise<BatchAnswer> {
  const outcomes = await Promise.all(
    event.Records.map(async (record) => {
      const body = parseJson(record.body);
      try {
        if (body === undefined)
          deps.log.warn(
            { decision: 'refused', messageId: record.messageId },
            'queued event refused: not JSON',
          );
        await handle(body);
        return undefined;
      } catch (error) {
        deps.log.error({ err: error, messageId: record.messageId }, 'queued event failed: kept');
        await waitOut(record, jobIdOf(body), error, deps);
        return { itemIdentifier: record.messageId };
      }
    }),
  );
  return { batchItemFailures: outcomes.filter((failure) => failure !== undefined) };
}

/** The job an event is about: a dispatch request's, or the runner payload's of a record. */
export function jobIdOf(event: unknown): unknown {
  const fields = event as Record<string, unknown> | undefined;
  return fields?.jobId ?? (fields?.requestPayload as { jobId?: unknown } | undefined)?.jobId;
}

/** A rate-limited event is hidden until GitHub's window ends: no broker sees it before. */
async function waitOut(record: QueueRecord, jobId: unknown, error: unknown, deps: QueueDeps) {
  const queueUrl = queueUrlOf(record.eventSourceARN, deps.queueUrls);
  if (!(error instanceof RateLimitedError) || !deps.sqs || !queueUrl) return;
  const seconds = Math.ceil((error.until - (deps.now ?? Date.now)()) / 1000);
  const visibility = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, seconds));
  await deps.sqs
    .send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: visibility,
      }),
    )
    .then(() =>
      deps.log.info(
        { messageId: record.messageId, jobId, waitSeconds: visibility },
        'waits in its queue for GitHub rate limit window',
      ),
    )
    .catch((cause: unknown) =>
      deps.log.warn({ err: cause, messageId: record.messageId }, 'could not hide it for the wait'),
    );
}
