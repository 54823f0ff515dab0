import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invokeBroker } from './local-stack';

const ACCOUNT = '000000000000';

interface Message {
  readonly id: string;
  readonly body: string;
  receipt: string;
  visibleAt: number;
  receives: number;
}

interface Queue {
  readonly name: string;
  readonly messages: Message[];
  readonly visibilityMs: number;
  /** After this many receives a message goes to `deadLetter` instead (the redrive policy). */
  readonly maxReceives?: number;
  readonly deadLetter?: string;
}

/**
 * SQS for the local stack, as much of it as lambda-runner's queues use: its JSON API
 * (SendMessage, ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes) at
 * `url`, visibility timeouts, redrive to a dead-letter queue after `maxReceives`, and Lambda's
 * event source mapping: `mapToBroker` polls a queue and invokes the broker with batches of up
 * to ten, at most `concurrency` at once, deleting what the broker did not report as failed.
 */
export class FakeSqs {
  url = '';
  lambdaUrl = '';
  readonly queues = new Map<string, Queue>();
  /** Every API call, with the queue it named and when. */
  readonly calls: { action: string; queue: string; at: number; input: Record<string, unknown> }[] =
    [];
  private server: Server | undefined;
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<void>>();

  create(name: string, options: Omit<Queue, 'name' | 'messages'>): string {
    this.queues.set(name, { name, messages: [], ...options });
    return this.queueUrl(name);
  }

  queueUrl(name: string): string {
    return `${this.url}/${ACCOUNT}/${name}`;
  }

  /** Messages in a queue, visible or not. */
  depth(name: string): number {
    return this.queues.get(name)?.messages.length ?? 0;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const action = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
        const input = JSON.parse(body || '{}') as Record<string, unknown>;
        const answer = this.answer(action, input);
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.inFlight]);
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** The event source mapping: batches of `batchSize` to the broker, `concurrency` at once. */
  mapToBroker(name: string, { batchSize = 10, concurrency = 2 } = {}): void {
    const poll = () => {
      while (this.inFlight.size < concurrency) {
        const batch = this.receive(name, batchSize);
        if (batch.length === 0) return;
        const run = this.invoke(name, batch).finally(() => this.inFlight.delete(run));
        this.inFlight.add(run);
      }
    };
    this.timers.push(setInterval(poll, 100));
  }

  private async invoke(name: string, batch: Message[]): Promise<void> {
    const event = {
      Records: batch.map((message) => ({
        messageId: message.id,
        receiptHandle: message.receipt,
        body: message.body,
        attributes: { ApproximateReceiveCount: String(message.receives) },
        messageAttributes: {},
        md5OfBody: md5(message.body),
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`,
        awsRegion: 'us-east-1',
      })),
    };
    let failed: string[];
    try {
      const { answer } = await invokeBroker(this.lambdaUrl, event, true);
      const failures = (answer as { batchItemFailures?: { itemIdentifier: string }[] } | null)
        ?.batchItemFailures;
      // A function error (no batch answer) leaves the whole batch, as Lambda does.
      failed = failures
        ? failures.map((failure) => failure.itemIdentifier)
        : batch.map((m) => m.id);
    } catch {
      failed = batch.map((message) => message.id);
    }
    const queue = this.queues.get(name)!;
    for (const message of batch)
      if (!failed.includes(message.id)) this.remove(queue, message.receipt);
  }

  /** Visible messages, made invisible for the queue's timeout; past the limit, redriven. */
  private receive(name: string, max: number): Message[] {
    const queue = this.queues.get(name);
    if (!queue) return [];
    const now = Date.now();
    const taken: Message[] = [];
    for (const message of [...queue.messages]) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      if (queue.maxReceives !== undefined && message.receives >= queue.maxReceives) {
        this.remove(queue, message.receipt);
        if (queue.deadLetter) this.put(queue.deadLetter, message.body);
        continue;
      }
      message.receives += 1;
      message.receipt = randomUUID();
      message.visibleAt = now + queue.visibilityMs;
      taken.push(message);
    }
    return taken;
  }

  private put(name: string, body: string): Message {
    const message = { id: randomUUID(), body, receipt: '', visibleAt: 0, receives: 0 };
    this.queues.get(name)?.messages.push(message);
    return message;
  }

  private remove(queue: Queue, receipt: string): boolean {
    const index = queue.messages.findIndex((message) => message.receipt === receipt);
    if (index >= 0) queue.messages.splice(index, 1);
    return index >= 0;
  }

  private answer(action: string, input: Record<string, unknown>) {
    const name =
      String(input.QueueUrl ?? '')
        .split('/')
        .pop() ?? '';
    this.calls.push({ action, queue: name, at: Date.now(), input });
    const queue = this.queues.get(name);
    if (!queue) return { status: 400, body: { __type: 'AWS.SimpleQueueService.NonExistentQueue' } };
    const handle = this.actions[action];
    if (!handle)
      return { status: 400, body: { __type: 'InvalidAction', message: `${action} is not faked` } };
    return { status: 200, body: handle(queue, input) };
  }

  private readonly actions: Record<
    string,
    (queue: Queue, input: Record<string, unknown>) => Record<string, unknown>
  > = {
    SendMessage: (queue, input) => {
      const body = String(input.MessageBody);
      return { MessageId: this.put(queue.name, body).id, MD5OfMessageBody: md5(body) };
    },
    ChangeMessageVisibility: (queue, input) => {
      const message = queue.messages.find((m) => m.receipt === input.ReceiptHandle);
      if (message) message.visibleAt = Date.now() + Number(input.VisibilityTimeout) * 1000;
      return {};
    },
    DeleteMessage: (queue, input) => {
      this.remove(queue, String(input.ReceiptHandle));
      return {};
    },
    ReceiveMessage: (queue, input) => ({
      Messages: this.receive(queue.name, Number(input.MaxNumberOfMessages ?? 1)).map((m) => ({
        MessageId: m.id,
        ReceiptHandle: m.receipt,
        Body: m.body,
        MD5OfBody: md5(m.body),
      })),
    }),
    GetQueueAttributes: (queue) => {
      const visible = queue.messages.filter((m) => m.visibleAt <= Date.now()).length;
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(visible),
          ApproximateNumberOfMessagesNotVisible: String(queue.messages.length - visible),
        },
      };
    },
  };
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
