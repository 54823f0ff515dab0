import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import FakeTimers from '@sinonjs/fake-timers';
import pino from 'pino';
import { createBrokerHandler } from '../../../src/broker/handler';
import type { Executor } from '../../../src/broker/executors';
import type { Metrics } from '../../../src/metrics';
import { createWebhookHandler } from '../../../src/webhook-handler';
import type { RunnerPayload } from '../../../runner/runner-payload';
import { appKeys } from '../github-app';
import { TEST_SECRET, delivery, queuedJob } from '../webhook-events';
import { LimitedGitHub, type Job } from './limited-github';
import { MemoryDynamo } from './memory-dynamo';
import { SimQueue, simSqs, type Message } from './sim-queue';

/**
 * A burst of queued jobs through the deployed topology, on a virtual clock: the real webhook
 * handler (signed deliveries, the dispatch queue, job states in the control table), the real
 * broker handler in as many containers as its mappings run (cold starts, a 120 s timeout after
 * which a container is stopped for good), SQS queues with visibility timeouts and redrive, and a
 * GitHub that enforces its documented limits (limited-github.ts). Runners start, take a job (any
 * queued one, as GitHub hands them out), run it and end; GitHub sends the App's in_progress and
 * completed deliveries as they do, and each runner's end reaches the settle queue. Time is
 * driven by the simulation: nothing waits on the wall clock.
 */
export interface BurstOptions {
  readonly jobs: number;
  /** Apps the stage holds (1 or 2), each installed on the repository. */
  readonly apps?: number;
  /** The broker's reserved concurrency: half for each queue's mapping (as deployed). */
  readonly brokerConcurrency?: number;
  readonly jobDurationMs?: number;
  readonly runnerStartMs?: number;
  readonly idleTimeoutMs?: number;
  readonly latencyMs?: number;
  /** GitHub's limits, when tighter than its published ones (the brokers still budget 900). */
  readonly github?: { readonly pointsPerMinute?: number; readonly hourly?: number };
  /** Broker containers stopped between a runner's registration and its start (a crash). */
  readonly killAfterRegistration?: number;
  /** A planted fault, to show the suite catches it. */
  readonly fault?: 'ignore-shared-wait' | 'drop-refused';
  /** Give up (and count what is left as lost) after this much virtual time. */
  readonly maxVirtualMs?: number;
}

export interface BurstReport {
  readonly jobs: number;
  readonly completed: number;
  readonly lost: number;
  readonly ranTwice: number;
  readonly registrationsLeft: number;
  readonly callsInsideWindows: Record<string, number>;
  readonly brokerCalls: number;
  readonly callsPerJob: number;
  readonly installationCallsPerJob: number;
  readonly refusals: number;
  /** GitHub's refusals by status: 403 and 429. */
  readonly refusedWith: Record<string, number>;
  readonly coldStarts: number;
  readonly maxMintsPerColdStart: number;
  readonly timeouts: number;
  /** Containers stopped between registration and start. */
  readonly killed: number;
  readonly deadLetters: number;
  readonly webhookFailures: number;
  readonly waitedInQueue: number;
  readonly dispatchedAllMs: number;
  readonly floorMs: number;
  readonly ratio: number;
  readonly virtualMs: number;
}

const START = Date.UTC(2026, 11, 2, 9, 0, 17);
const ACCOUNT = '123456789012';
const queueArn = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
const queueUrl = (name: string) => `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${name}`;

export async function runBurst(options: BurstOptions): Promise<BurstReport> {
  const clock = FakeTimers.withGlobal(globalThis).install({
    now: START,
    toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
  });
  try {
    return await simulate(options, clock);
  } finally {
    clock.uninstall();
  }
}

type Clock = ReturnType<ReturnType<typeof FakeTimers.withGlobal>['install']>;

const quietMetrics = {
  singleMetric: () => ({ addDimensions() {}, addMetric() {} }),
  addDimensions() {},
  addMetadata() {},
  addMetric() {},
  publishStoredMetrics() {},
} as unknown as Metrics;

const SECOND_APP = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const unused = { send: () => Promise.reject(new Error('not used in the simulation')) };

/** One burst: GitHub, the table, the queues, the webhook, broker containers and runners. */
class BurstRun {
  readonly github: LimitedGitHub;
  readonly table = new MemoryDynamo();
  readonly counted = countingLog();
  readonly dispatchQueue: SimQueue;
  readonly settleQueue: SimQueue;
  private readonly sqs;
  private readonly webhook;
  private readonly mappings: ReturnType<typeof mapping>[];
  private readonly idle: Container[] = [];
  readonly runsPerJob = new Map<number, number>();
  runnersActive = 0;
  lastStartAt = START;
  coldStarts = 0;
  timeouts = 0;
  kills = 0;
  webhookFailures = 0;

  constructor(private readonly options: BurstOptions) {
    const apps = [{ appId: '4242', publicKey: appKeys.publicKey, installationId: 77 }];
    if ((options.apps ?? 1) > 1)
      apps.push({ appId: '5353', publicKey: SECOND_APP.publicKey, installationId: 88 });
    this.github = new LimitedGitHub({
      apps,
      latencyMs: options.latencyMs ?? 100,
      ...options.github,
    });
    const wake = () => this.mappings?.forEach((queue) => queue.pump());
    this.dispatchQueue = new SimQueue(
      queueUrl('dispatch'),
      queueArn('dispatch'),
      720_000,
      10,
      wake,
    );
    this.settleQueue = new SimQueue(queueUrl('settle'), queueArn('settle'), 720_000, 10, wake);
    this.sqs = simSqs([this.dispatchQueue, this.settleQueue]);
    this.webhook = createWebhookHandler({
      env: {
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_DISPATCH: 'queue',
        DISPATCH_QUEUE_URL: this.dispatchQueue.url,
        CONTROL_TABLE: 'control',
      },
      clients: {
        lambda: unused,
        secretsManager: unused,
        sqs: this.sqs,
        dynamodb: this.table,
      } as never,
      log: this.counted.log,
      metrics: quietMetrics,
    });
    const concurrency = options.brokerConcurrency ?? 32;
    const invoke = (queue: SimQueue, batch: Message[]) => this.invoke(queue, batch);
    this.mappings = [
      mapping(this.dispatchQueue, Math.floor(concurrency / 2), invoke),
      mapping(this.settleQueue, Math.ceil(concurrency / 2), invoke),
    ];
  }

  /** Every job queued at once, each delivered to the webhook; done when all ran and all settled. */
  async run(clock: Clock): Promise<void> {
    for (let id = 1; id <= this.options.jobs; id += 1) {
      const job: Job = { id: 100_000 + id, installationId: 77, status: 'queued' };
      this.github.jobs.set(job.id, job);
    }
    const burst = Promise.all(
      [...this.github.jobs.values()].map((job) => this.deliver('queued', job)),
    );
    await drive(clock, () => this.done(), this.options.maxVirtualMs ?? 6 * 3600_000);
    await burst;
  }

  private done(): boolean {
    return (
      [...this.github.jobs.values()].every((job) => job.status === 'completed') &&
      this.dispatchQueue.depth + this.settleQueue.depth === 0 &&
      this.mappings.every((queue) => queue.active() === 0) &&
      this.runnersActive === 0
    );
  }

  private async deliver(action: string, job: Job): Promise<void> {
    const payload = jobPayload(action, job);
    const answer = await this.webhook(delivery(payload) as never, {
      getRemainingTimeInMillis: () => 10_000,
    });
    if (answer.statusCode >= 300) this.webhookFailures += 1;
  }

  /** The runner function: its listener takes a job (any queued one), runs it, and it ends. */
  private readonly executor: Executor = async (payload) => {
    this.lastStartAt = Date.now();
    this.runnersActive += 1;
    void this.runner(payload as unknown as RunnerPayload).finally(() => (this.runnersActive -= 1));
  };

  private async runner(payload: RunnerPayload): Promise<void> {
    await sleep(this.options.runnerStartMs ?? 2000);
    const runnerId = payload.runnerId ?? -1;
    const job = await this.listen(runnerId);
    if (job) {
      this.runsPerJob.set(job.id, (this.runsPerJob.get(job.id) ?? 0) + 1);
      await this.deliver('in_progress', job);
      await sleep(this.options.jobDurationMs ?? 60_000);
      this.github.complete(runnerId, job);
      await this.deliver('completed', job);
    } else this.github.disconnect(runnerId);
    this.settleQueue.send(
      JSON.stringify({
        requestContext: { condition: 'Success' },
        requestPayload: payload,
        responsePayload: { outcome: job ? 'completed' : 'idle' },
      }),
    );
  }

  /** A job for the runner within its idle timeout, asked every 5 s; undefined when none came. */
  private async listen(runnerId: number): Promise<Job | undefined> {
    const idleUntil = Date.now() + (this.options.idleTimeoutMs ?? 60_000);
    let job = this.github.connect(runnerId);
    while (!job && Date.now() < idleUntil && this.github.runners.has(runnerId)) {
      await sleep(5000);
      job = this.github.connect(runnerId);
    }
    return job;
  }

  /** An idle broker container, or a new one (a cold start: its own handler and token cache). */
  private container(): Container {
    const warm = this.idle.pop();
    if (warm) return warm;
    this.coldStarts += 1;
    const state = { id: `broker-${this.coldStarts}`, alive: true } as Container;
    state.handler = createBrokerHandler({
      env: this.brokerEnv(),
      clients: {
        lambda: unused,
        secretsManager: unused,
        sqs: this.sqs,
        dynamodb:
          this.options.fault === 'ignore-shared-wait' ? failingPace(this.table) : this.table,
      } as never,
      // A stopped container starts nothing: the Lambda that would have run it is gone.
      executors: {
        lambda: (payload, profile) =>
          state.alive ? this.executor(payload, profile) : Promise.reject(new Error('stopped')),
      },
      log: this.counted.log,
      metrics: quietMetrics,
      fetch: this.killable(state),
    });
    return state;
  }

  /**
   * The container's way to GitHub; with `killAfterRegistration`, the first such containers are
   * stopped the moment GitHub has registered a runner for them, before they can start it.
   */
  private killable(state: Container): typeof fetch {
    const fetch = this.github.fetchFor(state.id, () => state.alive);
    return (async (input: string | URL | Request, init?: RequestInit) => {
      const response = await fetch(input, init);
      const registered = String(input).endsWith('/generate-jitconfig') && response.status === 201;
      if (registered && this.kills < (this.options.killAfterRegistration ?? 0)) {
        this.kills += 1;
        state.alive = false;
      }
      return response;
    }) as typeof fetch;
  }

  private brokerEnv(): Record<string, string> {
    return {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      ...((this.options.apps ?? 1) > 1
        ? {
            ADDITIONAL_APPS: JSON.stringify([{ appId: '5353', privateKey: SECOND_APP.privateKey }]),
          }
        : {}),
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_FUNCTION_NAME: 'lambda-runner-sim-runner',
      RUNNER_ISOLATION: 'shared',
      CONTROL_TABLE: 'control',
      DISPATCH_QUEUE_URL: this.dispatchQueue.url,
      SETTLE_QUEUE_URL: this.settleQueue.url,
      RATE_LIMIT_MAX_SLEEP_SECONDS: '5',
      GITHUB_POINTS_PER_MINUTE: '900',
      LOG_LEVEL: 'info',
    };
  }

  /**
   * One batch to one container, as Lambda runs it: a timeout (120 s) stops the container for
   * good and leaves the batch to its visibility timeout; a thrown error leaves it all; otherwise
   * the messages not reported failed are deleted.
   */
  private async invoke(queue: SimQueue, batch: Message[]): Promise<void> {
    const broker = this.container();
    const event = {
      Records: batch.map((message) => ({
        messageId: message.id,
        receiptHandle: message.receipt,
        body: message.body,
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
      })),
    };
    const answer = await withTimeout(broker.handler(event), 120_000);
    if (answer === 'timeout' || !broker.alive) {
      this.timeouts += 1;
      broker.alive = false;
      return;
    }
    this.idle.push(broker);
    if (answer === 'error') return;
    const failed = new Set(
      (answer as { batchItemFailures: { itemIdentifier: string }[] }).batchItemFailures.map(
        (failure) => failure.itemIdentifier,
      ),
    );
    for (const message of batch)
      if (!failed.has(message.id) || this.options.fault === 'drop-refused')
        queue.delete(message.receipt);
  }
}

async function withTimeout(work: Promise<unknown>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const answer = await Promise.race([work.catch(() => 'error' as const), timedOut]);
  clearTimeout(timer);
  return answer;
}

async function simulate(options: BurstOptions, clock: Clock): Promise<BurstReport> {
  const run = new BurstRun(options);
  await run.run(clock);
  return report(run, options);
}

interface Container {
  readonly id: string;
  handler: (event: unknown) => Promise<unknown>;
  alive: boolean;
}

/** An event source mapping: batches of up to 10, at most `concurrency` at once. */
function mapping(
  queue: SimQueue,
  concurrency: number,
  invoke: (queue: SimQueue, batch: Message[]) => Promise<void>,
) {
  let active = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pump = (): void => {
    while (active < concurrency && queue.hasVisible()) {
      const batch = queue.receive(10);
      if (batch.length === 0) break;
      active += 1;
      void invoke(queue, batch).finally(() => {
        active -= 1;
        pump();
      });
    }
    if (timer) clearTimeout(timer);
    timer = undefined;
    const next = queue.nextVisibleAt();
    if (next !== Infinity && next > Date.now())
      timer = setTimeout(pump, Math.max(0, next - Date.now()));
  };
  return { pump, active: () => active };
}

/** Runs the virtual clock until `done`, timer by timer, letting promises settle in between. */
async function drive(clock: Clock, done: () => boolean, maxVirtualMs: number): Promise<void> {
  while (!done() && Date.now() - START < maxVirtualMs) {
    if (clock.countTimers() === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (clock.countTimers() === 0 && !done())
        throw new Error('the simulation stalled: nothing is scheduled and work is left');
      continue;
    }
    await clock.nextAsync();
  }
}

/** The broker's table with the shared pace unreadable: each container goes by its own. */
function failingPace(table: MemoryDynamo): Pick<MemoryDynamo, 'send'> {
  return {
    send: (command: { input?: { Key?: { pk?: { S?: string } } } }) => {
      const key = command.input?.Key?.pk?.S ?? '';
      if (/^(pace|points)#/.test(key))
        return Promise.reject(Object.assign(new Error('planted'), { name: 'InternalServerError' }));
      return table.send(command);
    },
  };
}

function jobPayload(action: string, job: Job) {
  const payload = queuedJob({ fullName: 'acme/app' }) as {
    action: string;
    installation: { id: number };
    workflow_job: Record<string, unknown>;
  };
  payload.action = action;
  payload.installation.id = job.installationId;
  Object.assign(payload.workflow_job, {
    id: job.id,
    run_id: job.id,
    run_attempt: 1,
    status: action,
    runner_name: action === 'queued' ? null : (job.runnerName ?? null),
    conclusion: action === 'completed' ? 'success' : null,
  });
  return payload;
}

function countingLog() {
  const counts = { waitedInQueue: 0, errors: 0 };
  const stream = new Writable({
    write(chunk: Buffer, _encoding, next) {
      const text = chunk.toString('utf8');
      if (text.includes('waits in its queue for GitHub rate limit window'))
        counts.waitedInQueue += 1;
      if (text.includes('"level":50')) counts.errors += 1;
      next();
    },
  });
  return { log: pino({ level: 'info' }, stream), counts };
}

function report(run: BurstRun, options: BurstOptions): BurstReport {
  const { github } = run;
  const jobs = [...github.jobs.values()];
  const completed = jobs.filter((job) => job.status === 'completed').length;
  const inside: Record<string, number> = {};
  for (const call of github.calls)
    if (call.insideWindow) inside[call.caller] = (inside[call.caller] ?? 0) + 1;
  const installation = github.calls.filter((call) => call.caller.startsWith('installation-'));
  const floorMs = Math.max(
    0,
    ...[...new Set(installation.map((call) => call.caller))].map((caller) => {
      const served = installation.filter(
        (call) => call.caller === caller && call.status !== 403 && call.status !== 429,
      );
      const points = served.reduce((sum, call) => sum + (call.method === 'GET' ? 1 : 5), 0);
      return Math.max(
        windowsFloor(points, 900, 60_000),
        windowsFloor(served.length, 5000, 3600_000),
      );
    }),
  );
  return {
    jobs: options.jobs,
    completed,
    lost: options.jobs - completed,
    ranTwice: [...run.runsPerJob.values()].filter((runs) => runs > 1).length,
    registrationsLeft: github.runners.size,
    callsInsideWindows: inside,
    brokerCalls: github.calls.length,
    callsPerJob: github.calls.length / options.jobs,
    installationCallsPerJob: installation.length / options.jobs,
    refusals: github.calls.filter((call) => call.status === 403 || call.status === 429).length,
    refusedWith: Object.fromEntries(
      [403, 429].map((status) => [
        String(status),
        github.calls.filter((call) => call.status === status).length,
      ]),
    ),
    coldStarts: run.coldStarts,
    maxMintsPerColdStart: Math.max(0, ...github.mints.values()),
    timeouts: run.timeouts - run.kills,
    killed: run.kills,
    deadLetters: run.dispatchQueue.deadLetters.length + run.settleQueue.deadLetters.length,
    webhookFailures: run.webhookFailures,
    waitedInQueue: run.counted.counts.waitedInQueue,
    dispatchedAllMs: run.lastStartAt - START,
    floorMs,
    ratio: floorMs > 0 ? (run.lastStartAt - START) / floorMs : NaN,
    virtualMs: Date.now() - START,
  };
}

/**
 * The pacing floor: when the last of `spent` can go at the earliest, `budget` a window, windows
 * fixed on the clock (GitHub's minute; the hour, counted here from the burst's start). The first
 * window is the rest of the one the burst began in.
 */
function windowsFloor(spent: number, budget: number, windowMs: number): number {
  const windows = Math.ceil(spent / budget);
  if (windows <= 1) return 0;
  const firstEnds =
    windowMs === 60_000 ? (Math.floor(START / windowMs) + 1) * windowMs : START + windowMs;
  return firstEnds - START + (windows - 2) * windowMs;
}
