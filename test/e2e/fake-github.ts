import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { verifyAppJwt } from '../support/github-app';
import { describeRunner } from '../support/github-runner';
import { delivery } from '../support/webhook-events';
import { queuedJobFor } from './deliveries';

/** GitHub's own example bodies (from @octokit/openapi), so answers match GitHub's schema. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- example bodies are untyped JSON from the description
function example(name: string): any {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a 13 MB JSON, loaded once on demand
  const spec = require('@octokit/openapi/generated/api.github.com.json') as {
    components: { examples: Record<string, { value: unknown }> };
  };
  const value = spec.components.examples[name]?.value;
  if (value === undefined) throw new Error(`no example ${name}`);
  return structuredClone(value);
}

export interface FakeRunner {
  id: number;
  name: string;
  scope: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
  createdAt: number;
}

export interface Call {
  readonly method: string;
  readonly path: string;
  readonly auth: 'app' | 'installation' | 'none';
  readonly status: number;
  /** When it was answered (ms since the epoch). */
  readonly at: number;
}

interface Fault {
  method: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  times: number;
}

/**
 * A stateful stand-in for the GitHub REST API where a test needs state or auth: App JWTs are
 * verified with the App's public key, installation tokens must be ones it minted, runner names
 * are unique per repository or org (409 on reuse), jobs have a status, faults can be queued.
 * Runners it registers report back (through the fake listener) when they listen, take a job,
 * finish (ephemeral: GitHub removes them) or exit. Request bodies and answers are GitHub's own
 * shapes; Prism, in front of it, validates them against GitHub's description.
 */
export class FakeGitHub {
  readonly calls: Call[] = [];
  readonly runners = new Map<number, FakeRunner>();
  readonly jobs = new Map<number, string>();
  readonly tokens = new Map<string, number>();
  readonly installations = [77];
  readonly jitConfigs = new Map<string, string>();
  mints = 0;
  private faults: Fault[] = [];
  private nextRunnerId = 1000;
  private server: Server | undefined;
  url = '';
  /** Added before every API answer: GitHub's own time, held fixed for benchmarks. */
  latencyMs = 0;
  /** The App's webhook delivery log, newest last, as GET /app/hook/deliveries shows it. */
  readonly hookDeliveries: HookDelivery[] = [];
  /** Where redeliveries go: the App's webhook URL. */
  webhookUrl = '';
  /** How many times each job was taken by a runner ("Running job"). */
  readonly jobsRun = new Map<number, number>();
  private nextDeliveryId = 1;
  /** Redeliveries asked for and not yet answered. */
  private readonly redeliveries = new Set<Promise<number>>();

  /**
   * Delivers a webhook as GitHub does: POSTs it to the webhook URL and records the attempt in
   * the App's delivery log with the answer's status (0 when nothing answered).
   */
  async deliver(
    request: { guid: string; event: string; headers: Record<string, string>; body: string },
    redelivery = false,
  ): Promise<number> {
    let status = 0;
    try {
      status = (
        await fetch(this.webhookUrl, {
          method: 'POST',
          headers: request.headers,
          body: request.body,
        })
      ).status;
    } catch {
      status = 0;
    }
    this.hookDeliveries.push({
      ...request,
      id: this.nextDeliveryId++,
      status,
      redelivery,
      at: new Date(),
    });
    return status;
  }

  constructor(
    private readonly publicKey: string,
    private readonly appId: string,
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Answer the next `times` matching calls with `status` (and headers), then behave again. */
  fail(
    method: string,
    path: RegExp,
    status: number,
    times = 1,
    headers?: Record<string, string>,
  ): void {
    this.faults.push({ method, path, status, times, headers });
  }

  /** GitHub answers again: every queued fault is dropped. */
  clearFaults(): void {
    this.faults = [];
  }

  addRunner(runner: Omit<FakeRunner, 'id'> & { id?: number }): FakeRunner {
    const created = { ...runner, id: runner.id ?? this.nextRunnerId++ };
    this.runners.set(created.id, created);
    return created;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    // `/github/...` from Prism in front, `/api/v3/...` when a runner talks to the fake directly.
    const path = url.pathname.replace(/^\/(github|api\/v3)(?=\/)/, '');
    if (path.startsWith('/_fake/')) return this.control(path, body, res);
    const fault = this.faults.find(
      (candidate) =>
        candidate.method === req.method && candidate.path.test(path) && candidate.times > 0,
    );
    const auth = this.authenticate(req.headers.authorization);
    const answer = fault
      ? (fault.times--,
        { status: fault.status, body: { message: 'injected fault' }, headers: fault.headers })
      : this.route(req.method ?? 'GET', path, url, body, auth);
    this.calls.push({
      method: req.method ?? 'GET',
      path,
      auth: auth.kind,
      status: answer.status,
      at: Date.now(),
    });
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.status === 204 ? undefined : JSON.stringify(answer.body));
  }

  private authenticate(header: string | undefined): {
    kind: Call['auth'];
    installationId?: number;
  } {
    if (!header) return { kind: 'none' };
    if (/^bearer /i.test(header)) {
      try {
        const jwt = verifyAppJwt(header, this.publicKey);
        const now = Math.floor(Date.now() / 1000);
        if (
          String(jwt.payload.iss) === this.appId &&
          jwt.payload.exp > now &&
          jwt.payload.exp - jwt.payload.iat <= 600
        ) {
          return { kind: 'app' };
        }
      } catch {
        return { kind: 'none' };
      }
      return { kind: 'none' };
    }
    const installationId = this.tokens.get(header.replace(/^token /i, ''));
    return installationId ? { kind: 'installation', installationId } : { kind: 'none' };
  }

  private route(
    method: string,
    path: string,
    url: URL,
    body: Record<string, unknown>,
    auth: ReturnType<FakeGitHub['authenticate']>,
  ) {
    const key = `${method} ${path.replace(/\d+/g, ':n')}`;
    const app = auth.kind === 'app';
    const installation = auth.kind === 'installation';
    const handlers: Record<string, () => Answer> = {
      'POST /app/installations/:n/access_tokens': () =>
        app ? this.mint(Number(path.split('/')[3])) : unauthorized(),
      'GET /app/installations': () =>
        app ? ok(this.installations.map((id) => installationItem(id))) : unauthorized(),
      'GET /app': () => (app ? ok(example('integration')) : unauthorized()),
      'GET /app/hook/deliveries': () => (app ? this.deliveryLog(url) : unauthorized()),
      'POST /app/hook/deliveries/:n/attempts': () =>
        app ? this.redeliver(Number(path.split('/')[4])) : unauthorized(),
      'GET /installation/repositories': () =>
        installation ? ok(example('repository-paginated-2')) : unauthorized(),
    };
    const handler =
      handlers[key] ??
      (() => (installation ? this.runnerRoute(method, path, url, body) : unauthorized()));
    return handler();
  }

  /** Newest first, `per_page` at a time, the cursor being the offset (GitHub's is opaque). */
  private deliveryLog(url: URL): Answer {
    const perPage = Number(url.searchParams.get('per_page') ?? 30);
    const offset = Number(url.searchParams.get('cursor') ?? 0);
    const newestFirst = [...this.hookDeliveries].reverse();
    const page = newestFirst.slice(offset, offset + perPage).map((delivery) => ({
      ...example('hook-delivery-items')[0],
      id: delivery.id,
      guid: delivery.guid,
      delivered_at: delivery.at.toISOString(),
      redelivery: delivery.redelivery,
      status: delivery.status >= 200 && delivery.status < 300 ? 'OK' : 'failed',
      status_code: delivery.status,
      event: delivery.event,
      action: 'queued',
    }));
    const more = offset + perPage < newestFirst.length;
    const next = `${this.url}/app/hook/deliveries?per_page=${perPage}&cursor=${offset + perPage}`;
    return { status: 200, body: page, headers: more ? { link: `<${next}>; rel="next"` } : {} };
  }

  /** GitHub accepts the redelivery at once and makes it shortly after. */
  private redeliver(id: number): Answer {
    const delivery = this.hookDeliveries.find((candidate) => candidate.id === id);
    if (!delivery) return notFound();
    const attempt = new Promise((resolve) => setTimeout(resolve, 10)).then(() =>
      this.deliver(delivery, true),
    );
    this.redeliveries.add(attempt);
    void attempt.finally(() => this.redeliveries.delete(attempt));
    return { status: 202, body: {} };
  }

  /**
   * Resolves once every redelivery asked for so far has been answered (and is in the delivery
   * log). GitHub's deliveries end within its 10 s timeout, far inside the schedule's 15 minutes;
   * a suite that runs the schedule every few seconds waits for this first, so that a schedule
   * run never sees a failed delivery whose redelivery is still on its way.
   */
  async redeliveriesAnswered(): Promise<void> {
    while (this.redeliveries.size > 0) await Promise.allSettled([...this.redeliveries]);
  }

  private mint(installationId: number): Answer {
    this.mints += 1;
    const token = `ghs_${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, installationId);
    return {
      status: 201,
      body: {
        ...example('installation-token'),
        token,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
      },
    };
  }

  private runnerRoute(
    method: string,
    path: string,
    url: URL,
    body: Record<string, unknown>,
  ): Answer {
    const scoped = /^\/(repos\/[^/]+\/[^/]+|orgs\/[^/]+)\/actions\/(.*)$/.exec(path);
    if (!scoped) return notFound();
    const [, scope = '', rest = ''] = scoped;
    const id = Number(/\/(\d+)$/.exec(rest)?.[1]);
    const routes: Record<string, () => Answer> = {
      // GitHub's own example lacks created_at, which its schema requires.
      'GET jobs/:id': () =>
        ok({
          ...example('job'),
          id,
          status: this.jobs.get(id) ?? 'queued',
          created_at: new Date().toISOString(),
        }),
      'POST runners/generate-jitconfig': () => this.jit(scope, body),
      'POST runners/registration-token': () => ({
        status: 201,
        body: {
          ...example('authentication-token'),
          token: `AREG${randomBytes(8).toString('hex')}`,
        },
      }),
      'GET runners': () => this.list(scope, url),
      'GET runner-groups': () =>
        ok({
          total_count: 1,
          runner_groups: [
            { ...example('runner-groups-org').runner_groups[0], id: 1, name: 'Default' },
          ],
        }),
      'DELETE runners/:id': () => this.delete(scope, id),
      'GET runners/:id': () => {
        const runner = this.runners.get(id);
        return runner && runner.scope === scope ? ok(describeRunner(runner)) : notFound();
      },
    };
    return (routes[`${method} ${rest.replace(/\/\d+$/, '/:id')}`] ?? notFound)();
  }

  private jit(scope: string, body: Record<string, unknown>): Answer {
    const name = String(body.name);
    if (
      [...this.runners.values()].some((runner) => runner.scope === scope && runner.name === name)
    ) {
      return {
        status: 409,
        body: { message: 'Already exists - A runner with the same name already exists' },
      };
    }
    const runner = this.addRunner({
      name,
      scope,
      status: 'offline',
      busy: false,
      labels: body.labels as string[],
      createdAt: Date.now(),
    });
    const files = {
      '.runner': JSON.stringify({
        agentId: runner.id,
        agentName: name,
        poolId: body.runner_group_id,
        workFolder: body.work_folder,
        ephemeral: true,
        fakeServerUrl: this.url,
      }),
      '.credentials': JSON.stringify({
        scheme: 'OAuth',
        data: { clientId: `client-${runner.id}` },
      }),
      '.credentials_rsaparams': JSON.stringify({ d: randomBytes(12).toString('hex') }),
    };
    const encoded = Buffer.from(
      JSON.stringify(
        Object.fromEntries(
          Object.entries(files).map(([file, content]) => [
            file,
            Buffer.from(content).toString('base64'),
          ]),
        ),
      ),
    ).toString('base64');
    this.jitConfigs.set(name, encoded);
    return { status: 201, body: { runner: describeRunner(runner), encoded_jit_config: encoded } };
  }

  private list(scope: string, url: URL): Answer {
    const perPage = Number(url.searchParams.get('per_page') ?? 30);
    const page = Number(url.searchParams.get('page') ?? 1);
    const name = url.searchParams.get('name');
    const all = [...this.runners.values()].filter(
      (runner) => runner.scope === scope && (!name || runner.name === name),
    );
    return ok({
      total_count: all.length,
      runners: all
        .slice((page - 1) * perPage, page * perPage)
        .map((runner) => describeRunner(runner)),
    });
  }

  private delete(scope: string, id: number): Answer {
    const runner = this.runners.get(id);
    if (!runner || runner.scope !== scope) return notFound();
    this.runners.delete(id);
    return { status: 204, body: undefined };
  }

  private onRunnerEvent(runner: FakeRunner, event: string): void {
    const jobId = Number(/^lambda-(\d+)-/.exec(runner.name)?.[1]);
    if (event === 'listening') runner.status = 'online';
    if (event === 'running') {
      this.jobsRun.set(jobId, (this.jobsRun.get(jobId) ?? 0) + 1);
      runner.busy = true;
      this.jobs.set(jobId, 'in_progress');
    }
    if (event === 'completed') {
      this.runners.delete(runner.id); // ephemeral: GitHub removes it after its job
      this.jobs.set(jobId, 'completed');
    }
    if (event === 'exited') Object.assign(runner, { status: 'offline', busy: false });
  }

  /**
   * When set, GitHub sends the App's `workflow_job` deliveries as its runners take and finish
   * jobs (`in_progress`, then `completed`), before it answers the runner's report.
   */
  jobEvents = false;

  /** Delivers `workflow_job` `action` for the runner's job, signed as GitHub signs it. */
  private async deliverJobEvent(runner: FakeRunner, action: 'in_progress' | 'completed') {
    const jobId = Number(/^lambda-(\d+)-/.exec(runner.name)?.[1]);
    const payload = queuedJobFor(jobId) as unknown as {
      action: string;
      workflow_job: Record<string, unknown>;
    };
    payload.action = action;
    Object.assign(payload.workflow_job, {
      status: action,
      runner_name: runner.name,
      runner_id: runner.id,
      ...(action === 'completed' ? { conclusion: 'success' } : {}),
    });
    const signed = delivery(payload) as { headers: Record<string, string>; body: string };
    await this.deliver({
      guid: signed.headers['x-github-delivery']!,
      event: 'workflow_job',
      headers: signed.headers,
      body: signed.body,
    });
  }

  /** The App's delivery for a runner's report, when job events are on. */
  private async tellApp(runner: FakeRunner, event: string): Promise<void> {
    const action = ({ running: 'in_progress', completed: 'completed' } as const)[
      event as 'running' | 'completed'
    ];
    if (this.jobEvents && action) await this.deliverJobEvent(runner, action);
  }

  /** What the fake listener reports: listening, running a job, finished, exited. */
  private async control(
    path: string,
    body: Record<string, unknown>,
    res: ServerResponse,
  ): Promise<void> {
    const match = /^\/_fake\/runners\/(\d+)$/.exec(path);
    const runner = match ? this.runners.get(Number(match[1])) : undefined;
    if (runner) {
      this.onRunnerEvent(runner, String(body.event));
      await this.tellApp(runner, String(body.event));
    }
    if (runner && body.event === 'listening') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ job: body.wantsJob === true && this.assign(runner) }));
      return;
    }
    res.writeHead(runner ? 204 : 404).end();
  }

  /** GitHub hands a queued job to one runner: this one, if the job still waits. */
  private assign(runner: FakeRunner): boolean {
    const jobId = Number(/^lambda-(\d+)-/.exec(runner.name)?.[1]);
    if ((this.jobs.get(jobId) ?? 'queued') !== 'queued') return false;
    this.jobs.set(jobId, 'in_progress');
    return true;
  }
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

interface HookDelivery {
  readonly id: number;
  readonly guid: string;
  readonly event: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly status: number;
  readonly redelivery: boolean;
  readonly at: Date;
}
const ok = (body: unknown): Answer => ({ status: 200, body });
const unauthorized = (): Answer => ({
  status: 401,
  body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
});
const notFound = (): Answer => ({
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
});

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An installation as GitHub lists it; the example's account lacks fields the schema requires. */
function installationItem(id: number) {
  const item = example('base-installation-items')[0];
  const stamp = '2020-01-01T00:00:00Z';
  return {
    ...item,
    id,
    account: {
      ...item.account,
      name: 'octocat',
      slug: 'octocat',
      created_at: stamp,
      updated_at: stamp,
    },
  };
}
