// P7: delivery -> listener spawned with one job per execution environment (isolation `version`)
// against warm shared environments, in the same run, through the same webhook, broker and
// runner code, with GitHub answering every call after a fixed delay and Lambda's control plane
// modelled with its latency (test/support/fake-lambda.ts: an update locks the function for a
// second, a new version is Pending for a second). Each version's environment starts cold: a new
// runner handler (its init) per job; the shared one stays warm. The webhook's invoke goes over
// HTTP to a local invoke endpoint, as in P6.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import pino from 'pino';
import { createRunnerHandler } from '../runner/handler';
import type { RunnerPayload } from '../runner/runner-payload';
import { createBrokerHandler } from '../src/broker/handler';
import type { Executor } from '../src/broker/executors';
import { createWebhookHandler } from '../src/webhook-handler';
import { FakeGitHub } from '../test/e2e/fake-github';
import { startDynamo } from '../test/support/dynalite';
import { FakeLambda } from '../test/support/fake-lambda';
import { createFakeRunnerTree } from '../test/support/fake-runner-tree';
import { appKeys } from '../test/support/github-app';
import { TEST_SECRET, delivery } from '../test/support/webhook-events';
import {
  GITHUB_LATENCY_MS,
  invokeEndpoint,
  jobPayload,
  listenerStart,
  median,
  waitFor,
} from './runner-github';

process.env.POWERTOOLS_METRICS_DISABLED = 'true'; // the benches measure, they do not report
const log = pino({ level: 'silent' });
const context = { getRemainingTimeInMillis: () => 900_000 };
const RUNNER_FUNCTION = 'runner';

export async function benchIsolation(jobs = Number(process.env.BENCH_ISOLATION_JOBS ?? 20)) {
  const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-bench-isolation-'));
  const fake = new FakeGitHub(appKeys.publicKey, '4242');
  const dynamo = await startDynamo();
  const record = path.join(base, 'record.jsonl');
  const model = new FakeLambda({ now: Date.now });
  model.addFunction(RUNNER_FUNCTION, {}, { MaximumRetryAttempts: 0 });
  try {
    await createFakeRunnerTree(path.join(base, 'runner'));
    const host = new URL(await fake.start()).host;
    const runnerEnv = (version: string) => ({
      PATH: process.env.PATH,
      RUNNER_SOURCE_DIR: path.join(base, 'runner'),
      RUNNER_WORK_ROOT: path.join(base, 'work'),
      RUNNER_OWNS_CONTAINER: 'false',
      FAKE_RUNNER_RECORD: record,
      AWS_LAMBDA_FUNCTION_VERSION: version,
    });
    // Execution environments by qualifier: a version's is new (cold) for its one event.
    const warm = createRunnerHandler({ env: runnerEnv('$LATEST'), log });
    const pending: Promise<unknown>[] = [];
    const brokers: Record<string, ReturnType<typeof createBrokerHandler>> = {};
    const executor =
      (brokerName: string): Executor =>
      async (payload) => {
        const qualifier = payload.functionVersion ?? '$LATEST';
        model.invoke({
          FunctionName: RUNNER_FUNCTION,
          Qualifier: qualifier,
          Payload: Buffer.from(JSON.stringify(payload)),
        });
        const handler =
          qualifier === '$LATEST' ? warm : createRunnerHandler({ env: runnerEnv(qualifier), log });
        const run = handler(payload as RunnerPayload, context).then((result) => {
          model.finishQualified(RUNNER_FUNCTION, qualifier);
          return brokers[brokerName]!({
            requestContext: { condition: 'Success' },
            requestPayload: payload,
            responsePayload: result,
          });
        });
        pending.push(run);
      };
    const broker = (name: string, isolation: 'version' | 'shared') =>
      createBrokerHandler({
        env: {
          APP_ID: '4242',
          PRIVATE_KEY: appKeys.privateKey,
          WEBHOOK_SECRET: TEST_SECRET,
          GHE_HOST: host,
          GHE_PROTOCOL: 'http',
          CONTROL_TABLE: dynamo.tableName,
          RUNNER_DEPLOYMENT: 'bench',
          RUNNER_PROFILES: JSON.stringify([
            {
              name: 'default',
              labels: ['self-hosted', 'lambda-runner'],
              functionName: RUNNER_FUNCTION,
              isolation,
            },
          ]),
        },
        clients: {
          lambda: model.client() as unknown as LambdaClient,
          dynamodb: dynamo.client,
          secretsManager: undefined as never,
        },
        log,
        executors: { lambda: executor(name) },
      });
    brokers['broker-version'] = broker('broker-version', 'version');
    brokers['broker-shared'] = broker('broker-shared', 'shared');
    const endpoint = await invokeEndpoint({
      'broker-version': (event) => {
        const run = brokers['broker-version']!(event);
        pending.push(run);
        return run;
      },
      'broker-shared': (event) => {
        const run = brokers['broker-shared']!(event);
        pending.push(run);
        return run;
      },
    });
    const lambda = new LambdaClient({
      endpoint: endpoint.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    fake.latencyMs = GITHUB_LATENCY_MS;
    /** Each job: delivery -> listener spawned; then everything it started ends (settle, refill). */
    const viaWebhook = async (brokerName: string, firstJob: number, count: number) => {
      const webhook = createWebhookHandler({
        env: {
          WEBHOOK_SECRET: TEST_SECRET,
          BROKER_FUNCTION_NAME: brokerName,
          RUNNER_DISPATCH: 'lambda',
          LOG_LEVEL: 'silent',
        },
        clients: { lambda, secretsManager: undefined as never },
        log,
      });
      const times: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const jobId = firstJob + i;
        const t0 = Date.now();
        await webhook(delivery(jobPayload(jobId)));
        await waitFor(() => listenerStart(record, `lambda-${jobId}-1-1`) > 0);
        times.push(listenerStart(record, `lambda-${jobId}-1-1`) - t0);
        while (pending.length > 0) await Promise.all(pending.splice(0));
      }
      return times;
    };
    // Warm both brokers (token, client) and fill the pool, as a warm broker and the schedule would.
    await viaWebhook('broker-shared', 900, 2);
    await viaWebhook('broker-version', 950, 2);
    const callsBefore = [...model.calls.values()].reduce((sum, n) => sum + n, 0);
    const version = await viaWebhook('broker-version', 1000, jobs);
    const calls = [...model.calls.values()].reduce((sum, n) => sum + n, 0) - callsBefore;
    const shared = await viaWebhook('broker-shared', 2000, jobs);
    endpoint.close();
    return {
      jobs,
      versionMedianMs: median(version),
      sharedMedianMs: median(shared),
      controlPlaneCallsPerJob: calls / jobs,
      liveVersions: model.liveVersions(RUNNER_FUNCTION).length,
    };
  } finally {
    await fake.stop();
    await dynamo.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) void benchIsolation().then((result) => console.log(result));
