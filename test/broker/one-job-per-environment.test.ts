import nock from 'nock';
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  InvokeCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  PutFunctionEventInvokeConfigCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createBrokerHandler } from '../../src/broker/handler';
import { deriveSealKey, seal } from '../../src/seal';
import type { RunnerPayload } from '../../runner/runner-payload';
import { captureLog } from '../support/capture-log';
import { dispatchRequest } from '../support/dispatch-request';
import { useDynamo } from '../support/dynalite';
import { FakeLambda, SimulatedClock } from '../support/fake-lambda';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { GITHUB_API } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

// 200 jobs through the broker, against a model of Lambda's control plane and environments (one
// set of environments per version, a second-long update lock and publish, refused concurrent
// updates) and a real DynamoDB implementation for the control table. Every runner event must
// land in an environment that no other event ever reached, and no version may be left behind.
let stacks = 0;
const key = deriveSealKey(TEST_SECRET);
const lambdaMock = mockClient(LambdaClient);
const dynamo = useDynamo();

/** The Lambda client answered by the model. */
function wire(fake: FakeLambda) {
  lambdaMock.reset();
  lambdaMock
    .on(GetFunctionConfigurationCommand)
    .callsFake(async (i) => fake.getFunctionConfiguration(i));
  lambdaMock
    .on(UpdateFunctionConfigurationCommand)
    .callsFake(async (i) => fake.updateFunctionConfiguration(i));
  lambdaMock.on(PublishVersionCommand).callsFake(async (i) => fake.publishVersion(i));
  lambdaMock
    .on(GetFunctionEventInvokeConfigCommand)
    .callsFake(async (i) => fake.getFunctionEventInvokeConfig(i));
  lambdaMock
    .on(PutFunctionEventInvokeConfigCommand)
    .callsFake(async (i) => fake.putFunctionEventInvokeConfig(i));
  lambdaMock.on(DeleteFunctionCommand).callsFake(async (i) => fake.deleteFunction(i));
  lambdaMock
    .on(ListVersionsByFunctionCommand)
    .callsFake(async (i) => fake.listVersionsByFunction(i));
  lambdaMock.on(InvokeCommand).callsFake(async (i) => fake.invoke(i));
}

/**
 * GitHub: jobs queued until a runner ran them; a registration is refused (409) while a runner
 * of that name exists, and goes when deleted.
 */
function github(done: Set<number>) {
  let id = 1000;
  const runners = new Map<number, string>();
  nock.cleanAll();
  nock(GITHUB_API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get(/\/repos\/acme\/app\/actions\/jobs\/\d+$/)
    .reply(200, (uri) => {
      const job = Number(uri.split('/').pop());
      return { id: job, status: done.has(job) ? 'completed' : 'queued' };
    })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply((_uri, body) => {
      const { name } = body as { name: string };
      if ([...runners.values()].includes(name)) return [409, { message: 'Already exists' }];
      id += 1;
      runners.set(id, name);
      return [201, { runner: { id }, encoded_jit_config: encodeJitConfig(id, name) }];
    })
    // A 409 is looked up: the runner by that name is online (its listener waits for the job).
    .get('/repos/acme/app/actions/runners')
    .query(true)
    .reply((uri) => {
      const name = new URL(uri, GITHUB_API).searchParams.get('name');
      const found = [...runners].filter(([, n]) => n === name);
      return [
        200,
        {
          total_count: found.length,
          runners: found.map(([id, n]) => ({ id, name: n, status: 'online', busy: false })),
        },
      ];
    })
    .get(/\/repos\/acme\/app\/actions\/runners\/\d+$/)
    .reply((uri) => {
      const runner = Number(uri.split('/').pop());
      const name = runners.get(runner);
      return name ? [200, { id: runner, name, busy: false, status: 'offline' }] : [404, {}];
    })
    // The schedule's other tasks find nothing to do.
    .get(/\/app\/installations(\?.*)?$/)
    .reply(200, [])
    .get(/\/app\/hook\/deliveries(\?.*)?$/)
    .reply(200, [])
    .delete(/\/repos\/acme\/app\/actions\/runners\/\d+$/)
    .reply((uri) => {
      runners.delete(Number(uri.split('/').pop()));
      return [204, ''];
    });
}

/** A broker and a model of Lambda with a runner function of its own (the table is shared). */
function stack(isolation: 'version' | 'shared') {
  stacks += 1;
  const FUNCTION = `lambda-runner-test-runner-${stacks}`;
  const clock = new SimulatedClock();
  const fake = new FakeLambda(clock);
  fake.addFunction(
    FUNCTION,
    { RUNNER_SOURCE_DIR: '/opt/runner' },
    {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: {
        OnSuccess: { Destination: 'arn:aws:lambda:us-east-1:1:function:broker' },
        OnFailure: { Destination: 'arn:aws:lambda:us-east-1:1:function:broker' },
      },
    },
  );
  wire(fake);
  const captured = captureLog();
  // Lambda runs each broker event in a container of its own: ten containers, one event each at
  // a time (the broker's reserved concurrency).
  const container = () =>
    createBrokerHandler({
      env: {
        APP_ID: '4242',
        PRIVATE_KEY: appKeys.privateKey,
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_PROFILES: JSON.stringify([
          {
            name: 'default',
            labels: ['self-hosted', 'lambda-runner'],
            functionName: FUNCTION,
            isolation,
          },
        ]),
        CONTROL_TABLE: dynamo.current.tableName,
        RUNNER_DEPLOYMENT: 'd1',
      },
      clients: {
        lambda: new LambdaClient({ region: 'us-east-1' }),
        secretsManager: {} as never,
        dynamodb: dynamo.current.client,
      },
      log: captured.log,
      retryAfterBaseValue: 1,
      controlPlaneClock: clock,
    });
  const containers = Array.from({ length: 10 }, container);
  const broker = containers[0]!;
  return { fake, broker, containers, clock, functionName: FUNCTION, ...captured };
}

const record = (event: unknown, condition = 'Success') => ({
  requestContext: { condition },
  requestPayload: event,
  responsePayload: {},
});

/**
 * Runs `jobs` through the broker, ten at a time (the broker's reserved concurrency): each
 * dispatched, each runner ended and its destination record settled. A tenth of the runners fail
 * before their job (the broker dispatches again), and every fifth record is replayed twice.
 */
async function runJobs(s: ReturnType<typeof stack>, jobs: number[], done: Set<number>) {
  const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
  await s.broker(scheduled); // fills the pool, as the schedule does
  const dispatch = (jobId: number, n: number) =>
    s.containers[n]!(
      seal(dispatchRequest({ jobId, labels: ['self-hosted', 'lambda-runner'] }), key),
    );
  for (let i = 0; i < jobs.length; i += 10) {
    const wave = jobs.slice(i, i + 10);
    const before = s.fake.invocations.length;
    await Promise.all(wave.map(dispatch));
    await settleAll(s, s.fake.invocations.slice(before), done);
  }
}

/** The runners end; their records come back, redispatches included, until none is left. */
async function settleAll(
  s: ReturnType<typeof stack>,
  started: FakeLambda['invocations'],
  done: Set<number>,
) {
  let pending = started;
  while (pending.length > 0) {
    const mark = s.fake.invocations.length;
    for (const invocation of pending) await endRunner(s, invocation, done);
    pending = s.fake.invocations.slice(mark);
  }
}

async function endRunner(
  s: ReturnType<typeof stack>,
  invocation: FakeLambda['invocations'][number],
  done: Set<number>,
) {
  const payload = invocation.event as RunnerPayload;
  const failsFirst = payload.jobId % 10 === 0 && payload.dispatch === 1;
  if (!failsFirst) done.add(payload.jobId);
  s.fake.finish(invocation);
  const replays = payload.jobId % 5 === 0 ? 3 : 1;
  for (let r = 0; r < replays; r += 1)
    await s.broker(record(payload, failsFirst ? 'RetriesExhausted' : 'Success'));
}

it('200 jobs, a version each: no environment serves two events, none is left, three runners at most', async () => {
  const s = stack('version');
  const done = new Set<number>();
  const jobs = Array.from({ length: 200 }, (_, i) => 30_001 + i);
  github(done);
  await runJobs(s, jobs, done);

  expect(jobs.filter((job) => !done.has(job))).toEqual([]);
  const invoked = s.fake.invocations;
  // Every event in a version, each version's environment reached by that one event.
  expect(invoked.filter((i) => i.qualifier === '$LATEST')).toEqual([]);
  const crowded = s.fake.environments.filter((e) => e.events.length > 1);
  expect(crowded).toEqual([]);
  expect(new Set(invoked.map((i) => i.qualifier)).size).toBe(invoked.length);
  // A tenth of the jobs needed a second runner; replays started none beyond the limit.
  const perJob = new Map<number, number>();
  for (const i of invoked) {
    const job = (i.event as RunnerPayload).jobId;
    perJob.set(job, (perJob.get(job) ?? 0) + 1);
  }
  expect(Math.max(...perJob.values())).toBeLessThanOrEqual(3);
  expect(invoked.length).toBe(200 + 20);
  // Every invoked version was deleted; what is left is the fresh pool, never invoked.
  const live = s.fake.liveVersions(s.functionName);
  const used = new Set(invoked.map((i) => i.qualifier));
  expect(live.filter((v) => used.has(v))).toEqual([]);
  // What is left is the fresh pool (2; brokers refilling at once may publish a few more).
  expect(live.length).toBeLessThanOrEqual(2 + 10);
  const calls = [...s.fake.calls.values()].reduce((sum, n) => sum + n, 0);
  console.log(
    `one job per environment: ${invoked.length} runner events, ${calls} control-plane calls ` +
      `(${(calls / invoked.length).toFixed(1)} per runner): ${JSON.stringify(Object.fromEntries(s.fake.calls))}`,
  );
}, 300_000);

it('with isolation shared, warm environments serve job after job (what versions prevent)', async () => {
  const s = stack('shared');
  const done = new Set<number>();
  const jobs = Array.from({ length: 30 }, (_, i) => 40_001 + i);
  github(done);
  await runJobs(s, jobs, done);
  expect(s.fake.invocations.every((i) => i.qualifier === '$LATEST')).toBe(true);
  expect(s.fake.environments.some((e) => e.events.length > 1)).toBe(true);
});

it('the schedule deletes a version whose record never came, once it has outlived any runner event', async () => {
  const s = stack('version');
  const done = new Set<number>();
  github(done);
  await s.broker(
    seal(dispatchRequest({ jobId: 50_001, labels: ['self-hosted', 'lambda-runner'] }), key),
  );
  const [lost] = s.fake.invocations;
  expect(s.fake.liveVersions(s.functionName)).toContain(lost!.qualifier);
  const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
  await s.broker(scheduled);
  // Not yet: its runner may still be waiting in Lambda's queue.
  expect(s.fake.liveVersions(s.functionName)).toContain(lost!.qualifier);
  await s.clock.sleep((6 * 3600 + 1800) * 1000 + 1);
  await s.broker(scheduled);
  expect(s.fake.liveVersions(s.functionName)).not.toContain(lost!.qualifier);
});
