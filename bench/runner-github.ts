// P4 (GitHub calls the broker makes per job once warm), P5 (what a never-used runner costs) and
// P6 (delivery -> listener spawned through the webhook, the broker and the runner, against the
// same work without the broker hop), all against the fake GitHub.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import pino from 'pino';
import { createRunnerHandler } from '../runner/handler';
import type { RunnerPayload } from '../runner/runner-payload';
import { createBrokerHandler } from '../src/broker/handler';
import { createLambdaExecutor, type Executor } from '../src/broker/executors';
import { deriveSealKey, seal } from '../src/seal';
import { createWebhookHandler } from '../src/webhook-handler';
import { FakeGitHub } from '../test/e2e/fake-github';
import { dispatchRequest } from '../test/support/dispatch-request';
import { createFakeRunnerTree } from '../test/support/fake-runner-tree';
import { appKeys } from '../test/support/github-app';
import { TEST_SECRET, delivery, queuedJob } from '../test/support/webhook-events';

export const GITHUB_LATENCY_MS = 50;
const log = pino({ level: 'silent' });
const context = { getRemainingTimeInMillis: () => 900_000 };

const request = (jobId: number) =>
  dispatchRequest({ jobId, runId: 1, deliveryId: `bench-${jobId}` });

/** A local Lambda invoke endpoint: answers 202 at once, then runs the named handler. */
export function invokeEndpoint(handlers: Record<string, (event: unknown) => Promise<unknown>>) {
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent(
      /functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1] ?? '',
    );
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(202).end();
      void handlers[name]?.(JSON.parse(Buffer.concat(chunks).toString()));
    });
  });
  return new Promise<{ url: string; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => server.close(),
      }),
    ),
  );
}

export function jobPayload(jobId: number) {
  const payload = queuedJob({ labels: ['self-hosted', 'lambda-runner'], fullName: 'acme/app' }) as {
    workflow_job: { id: number; run_attempt: number };
    installation: { id: number };
  };
  Object.assign(payload.workflow_job, { id: jobId, run_attempt: 1 });
  payload.installation.id = 77;
  return payload;
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function benchRunnerGitHub(
  idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60),
  jobs = Number(process.env.BENCH_HOP_JOBS ?? 25),
) {
  const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-bench-gh-'));
  const fake = new FakeGitHub(appKeys.publicKey, '4242');
  const record = path.join(base, 'record.jsonl');
  try {
    await createFakeRunnerTree(path.join(base, 'runner'));
    const host = new URL(await fake.start()).host;
    const runnerEnv = (extra: Record<string, string> = {}) => ({
      PATH: process.env.PATH,
      RUNNER_SOURCE_DIR: path.join(base, 'runner'),
      RUNNER_WORK_ROOT: path.join(base, 'work'),
      RUNNER_OWNS_CONTAINER: 'false',
      FAKE_RUNNER_RECORD: record,
      ...extra,
    });
    const runner = createRunnerHandler({ env: runnerEnv(), log });
    const runs: Promise<unknown>[] = [];
    const executor: Executor = async (payload) => {
      runs.push(runner(payload as RunnerPayload, context));
    };
    const brokerEnv = {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      GHE_HOST: host,
      GHE_PROTOCOL: 'http',
      RUNNER_FUNCTION_NAME: 'runner',
    };
    const broker = createBrokerHandler({ env: brokerEnv, log, executors: { lambda: executor } });
    const key = deriveSealKey(TEST_SECRET);

    // P4: the second job on a warm broker.
    await broker(seal(request(1), key));
    const before = fake.calls.length;
    await broker(seal(request(2), key));
    const warmCalls = fake.calls.slice(before).map((call) => `${call.method} ${call.path}`);
    await Promise.all(runs.splice(0));

    // P6: with GitHub answering in a fixed 50 ms, from the delivery to the listener spawned.
    // Both paths: the webhook, an async invoke over HTTP, the broker's GitHub calls, the runner.
    // The split path adds what this design adds: a second async invoke, broker -> runner.
    fake.latencyMs = GITHUB_LATENCY_MS;
    const spawnedAt = (jobId: number) => listenerStart(record, `lambda-${jobId}-1-1`);
    const lambdaAt = (url: string) =>
      new LambdaClient({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
    const handlers: Record<string, (event: unknown) => Promise<unknown>> = {};
    const endpoint = await invokeEndpoint(handlers);
    const split = createBrokerHandler({
      env: brokerEnv,
      log,
      executors: { lambda: createLambdaExecutor({ lambda: lambdaAt(endpoint.url) }) },
    });
    Object.assign(handlers, {
      'broker-inprocess': (event: unknown) => broker(event),
      'broker-split': (event: unknown) => split(event),
      runner: (event: unknown) => {
        const run = runner(event as RunnerPayload, context);
        runs.push(run);
        return run;
      },
    });
    const viaWebhook = async (brokerName: string, firstJob: number): Promise<number[]> => {
      const webhook = createWebhookHandler({
        env: {
          WEBHOOK_SECRET: TEST_SECRET,
          BROKER_FUNCTION_NAME: brokerName,
          RUNNER_DISPATCH: 'lambda',
          LOG_LEVEL: 'silent',
        },
        clients: { lambda: lambdaAt(endpoint.url), secretsManager: undefined as never },
        log,
      });
      const times: number[] = [];
      for (let i = 0; i < jobs; i += 1) {
        const jobId = firstJob + i;
        const t0 = Date.now();
        await webhook(delivery(jobPayload(jobId)));
        await waitFor(() => spawnedAt(jobId) > 0);
        await Promise.all(runs.splice(0));
        times.push(spawnedAt(jobId) - t0);
      }
      return times;
    };
    // Warm both brokers' GitHub clients first, as a warm container would be.
    await split(seal(request(4), key));
    await waitFor(() => spawnedAt(4) > 0);
    await Promise.all(runs.splice(0));
    const direct = await viaWebhook('broker-inprocess', 100);
    const hop = await viaWebhook('broker-split', 500);
    endpoint.close();
    fake.latencyMs = 0;

    // P5: a runner that never gets a job, at the idle timeout.
    const idle = createRunnerHandler({
      env: runnerEnv({
        FAKE_RUNNER_SCENARIO: 'idle',
        RUNNER_IDLE_TIMEOUT_SECONDS: String(idleSeconds),
      }),
      log,
    });
    const idlePayload = (await captureIdlePayload(broker, key, fake)) as RunnerPayload;
    const started = process.hrtime.bigint();
    const idleResult = await idle(idlePayload, context);
    const idleSecondsMeasured = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      warmCalls,
      idleOutcome: idleResult.outcome,
      idleTimeoutSeconds: idleSeconds,
      idleRunnerSeconds: idleSecondsMeasured,
      githubLatencyMs: GITHUB_LATENCY_MS,
      directMedianMs: median(direct),
      hopMedianMs: median(hop),
      jobs,
    };
  } finally {
    await fake.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** A real sealed payload for the idle row, made by the broker (its runner is not started). */
async function captureIdlePayload(
  broker: ReturnType<typeof createBrokerHandler>,
  key: Buffer,
  fake: FakeGitHub,
): Promise<unknown> {
  let captured: unknown;
  const capture = createBrokerHandler({
    env: {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      GHE_HOST: new URL(fake.url).host,
      GHE_PROTOCOL: 'http',
    },
    log,
    executors: { lambda: async (payload) => void (captured = payload) },
  });
  void broker;
  await capture(seal(request(3), key));
  return captured;
}

export function listenerStart(record: string, runnerName: string): number {
  if (!existsSync(record)) return 0;
  const entry = readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { runnerName?: string; at?: number })
    .find((candidate) => candidate.runnerName === runnerName);
  return entry?.at ?? 0;
}

export async function waitFor(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !probe(); i += 1)
    await new Promise((resolve) => setTimeout(resolve, 5));
}

if (require.main === module) {
  void benchRunnerGitHub(Number(process.env.BENCH_IDLE_SECONDS ?? 2)).then((result) =>
    console.log(result),
  );
}
