/**
 * One execution environment's Lambda Runtime API, after the state machine of AWS's runtime
 * interface emulator (rapid: `invocationnext`, `invocationresponse`, `invocationerror`):
 *
 * - `GET /2018-06-01/runtime/invocation/next` while an invocation is in progress sends that
 *   invocation's event again, with its request id;
 * - otherwise it waits until an event arrives, and the event goes to whoever waits first;
 * - a response (or an error) for the current request id ends the invocation: the environment is
 *   idle again and its next event goes to the next caller of `/next`, whoever that is;
 * - a response for any other id is refused (400), and a second one for the same id too (403).
 *
 * Every process in the environment can reach it: it listens on the host's loopback, as the real
 * one does inside the sandbox.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InvocationEnd {
  readonly result?: Record<string, unknown>;
  readonly error?: string;
}

interface Invocation {
  readonly requestId: string;
  readonly event: unknown;
  readonly deadlineMs: number;
  readonly end: (answer: InvocationEnd) => void;
}

const PREFIX = '/2018-06-01/runtime';

export class RuntimeApi {
  private server?: Server;
  private current?: Invocation;
  private readonly queued: Invocation[] = [];
  private readonly waiting: ServerResponse[] = [];
  /** Every event handed out, to whom-ever asked: the request id, and whether it was a re-send. */
  readonly handedOut: { requestId: string; resent: boolean }[] = [];

  constructor(private readonly functionArn: string) {}

  /** host:port, what `AWS_LAMBDA_RUNTIME_API` holds. */
  address = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.address;
  }

  /** Callers blocked on `/next` right now. */
  get parked(): number {
    return this.waiting.filter((res) => !res.destroyed).length;
  }

  /** An invocation: resolves with what was posted for its request id. */
  invoke(event: unknown, remainingMs: number): Promise<InvocationEnd> {
    return new Promise((end) => {
      this.queued.push({
        requestId: randomUUID(),
        event,
        deadlineMs: Date.now() + remainingMs,
        end,
      });
      this.handOut();
    });
  }

  /** The runtime died: what is in progress fails, as Lambda records a runtime crash. */
  abandon(reason: string): void {
    const current = this.current;
    this.current = undefined;
    current?.end({ error: reason });
  }

  async close(): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy();
    this.abandon('environment shut down');
    for (const invocation of this.queued.splice(0))
      invocation.end({ error: 'environment shut down' });
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private send(res: ServerResponse, invocation: Invocation, resent: boolean) {
    this.handedOut.push({ requestId: invocation.requestId, resent });
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': invocation.requestId,
      'lambda-runtime-deadline-ms': String(invocation.deadlineMs),
      'lambda-runtime-invoked-function-arn': this.functionArn,
    });
    res.end(JSON.stringify(invocation.event));
  }

  /** An idle environment with a caller waiting and an event queued: the event goes to the caller. */
  private handOut() {
    while (!this.current && this.queued.length > 0) {
      const res = this.waiting.shift();
      if (!res) return;
      if (res.destroyed) continue;
      this.current = this.queued.shift()!;
      this.send(res, this.current, false);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) return this.next(res);
    const ended = new RegExp(`^${PREFIX}/invocation/([^/]+)/(response|error)$`).exec(url);
    if (req.method === 'POST' && ended)
      return this.end(res, ended[1]!, ended[2]!, Buffer.concat(chunks).toString());
    return answer(res, 404, { errorType: 'NotFound', errorMessage: url });
  }

  private next(res: ServerResponse) {
    if (this.current) return this.send(res, this.current, true);
    this.waiting.push(res);
    return this.handOut();
  }

  private end(res: ServerResponse, requestId: string, kind: string, body: string) {
    const invocation = this.current;
    if (!invocation || invocation.requestId !== requestId) {
      return this.handedOut.some((h) => h.requestId === requestId)
        ? answer(res, 403, {
            errorType: 'InvalidStateTransition',
            errorMessage: 'Invocation already ended',
          })
        : answer(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
    }
    this.current = undefined;
    const parsed = parseBody(body);
    invocation.end(
      kind === 'response' ? { result: parsed } : { error: String(parsed.errorMessage ?? body) },
    );
    answer(res, 202, { status: 'OK' });
    return this.handOut();
  }
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function parseBody(body: string): Record<string, unknown> {
  try {
    const value = JSON.parse(body || '{}') as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : { value };
  } catch {
    return { unparsed: body };
  }
}
