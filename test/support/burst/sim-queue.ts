import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';

export interface Message {
  readonly id: string;
  readonly body: string;
  receipt: string;
  visibleAt: number;
  receives: number;
}

/**
 * An SQS standard queue on the virtual clock: a received message is invisible for the queue's
 * visibility timeout (or what ChangeMessageVisibility set), comes back unless deleted, and
 * past `maxReceives` receives goes to the dead-letter list instead.
 */
export class SimQueue {
  private readonly messages = new Map<string, Message>();
  readonly deadLetters: string[] = [];
  private next = 1;
  sent = 0;
  received = 0;

  constructor(
    readonly url: string,
    readonly arn: string,
    private readonly visibilityMs: number,
    private readonly maxReceives: number,
    private readonly onVisible: () => void,
  ) {}

  send(body: string): void {
    const id = `${this.arn}#${this.next++}`;
    this.messages.set(id, { id, body, receipt: '', visibleAt: Date.now(), receives: 0 });
    this.sent += 1;
    this.onVisible();
  }

  /** Up to `max` visible messages, now invisible; those past the receive limit are redriven. */
  receive(max: number): Message[] {
    const now = Date.now();
    const taken: Message[] = [];
    for (const message of this.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      if (message.receives >= this.maxReceives) {
        this.messages.delete(message.id);
        this.deadLetters.push(message.body);
        continue;
      }
      message.receives += 1;
      message.receipt = `${message.id}@${message.receives}`;
      message.visibleAt = now + this.visibilityMs;
      taken.push(message);
    }
    this.received += taken.length;
    return taken;
  }

  delete(receipt: string): void {
    const id = receipt.split('@')[0]!;
    if (this.messages.get(id)?.receipt === receipt) this.messages.delete(id);
  }

  changeVisibility(receipt: string, seconds: number): void {
    const message = this.messages.get(receipt.split('@')[0]!);
    if (message?.receipt === receipt) message.visibleAt = Date.now() + seconds * 1000;
  }

  /** When the next hidden message shows again (Infinity when none waits). */
  nextVisibleAt(): number {
    let next = Infinity;
    for (const message of this.messages.values()) next = Math.min(next, message.visibleAt);
    return next;
  }

  hasVisible(): boolean {
    return this.nextVisibleAt() <= Date.now();
  }

  get depth(): number {
    return this.messages.size;
  }
}

/** An SQS client's `send` over simulated queues, by URL. */
export function simSqs(queues: readonly SimQueue[]) {
  const byUrl = (url: string | undefined) => {
    const queue = queues.find((candidate) => candidate.url === url);
    if (!queue) throw new Error(`no queue ${url}`);
    return queue;
  };
  return {
    async send(command: unknown): Promise<object> {
      if (command instanceof SendMessageCommand) {
        byUrl(command.input.QueueUrl).send(command.input.MessageBody ?? '');
        return { MessageId: 'sim' };
      }
      if (command instanceof ChangeMessageVisibilityCommand) {
        const { QueueUrl, ReceiptHandle, VisibilityTimeout } = command.input;
        byUrl(QueueUrl).changeVisibility(ReceiptHandle ?? '', VisibilityTimeout ?? 0);
        return {};
      }
      throw new Error(`simSqs: ${(command as object).constructor.name} is not modelled`);
    },
  };
}
