import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** One event the broker failed on, past Lambda's retries, and how often it was replayed. */
export interface DeadLetter {
  readonly handle: string;
  readonly event: unknown;
  readonly replays: number;
}

/** Where the broker's failed events wait: its SQS dead-letter queue in AWS. */
export interface DeadLetters {
  receive(max: number): Promise<DeadLetter[]>;
  remove(letter: DeadLetter): Promise<void>;
  /** Puts the event back with one more replay counted (outside the event: its seal stays). */
  requeue(letter: DeadLetter): Promise<void>;
}

/**
 * Reads a message as Lambda's on-failure destination writes it (the record, whose
 * `requestPayload` is the broker's event), as the settle queue's redrive moves it (the event
 * itself: a runner's destination record, a build's state change, a dispatch request), or as
 * `requeue` writes it (`{ event, replays }`).
 */
export function toDeadLetter(handle: string, body: string): DeadLetter {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    // an unreadable message: an empty event, which the replay drops with a log line
  }
  if ('replays' in parsed && 'event' in parsed)
    return { handle, event: parsed.event, replays: Number(parsed.replays) || 0 };
  return { handle, event: redriven(parsed) ? parsed : parsed.requestPayload, replays: 0 };
}

/** A settle-queue message itself: a runner's record (its payload the runner's), a build's event, a dispatch. */
function redriven(parsed: Record<string, unknown>): boolean {
  const payload = parsed.requestPayload as { kind?: unknown } | undefined;
  return (
    payload?.kind === 'runner' || parsed.source === 'aws.codebuild' || parsed.kind === 'dispatch'
  );
}

/** The broker's dead-letter queue in SQS. */
export function sqsDeadLetters({
  sqs,
  queueUrl,
}: {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
}): DeadLetters {
  return {
    async receive(max) {
      const { Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(max, 10),
          WaitTimeSeconds: 0,
        }),
      );
      return messages.map((message) =>
        toDeadLetter(message.ReceiptHandle ?? '', message.Body ?? ''),
      );
    },
    async remove(letter) {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: letter.handle }),
      );
    },
    async requeue(letter) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ event: letter.event, replays: letter.replays + 1 }),
        }),
      );
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: letter.handle }),
      );
    },
  };
}
