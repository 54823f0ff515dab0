import nock from 'nock';
import { createBrokerHandler } from '../../src/broker/handler';
import { createPace, limitedUntil, pointsOf } from '../../src/broker/pace';
import { deriveSealKey, seal } from '../../src/seal';
import { captureLog } from '../support/capture-log';
import { dispatchRequest } from '../support/dispatch-request';
import { createControlTable, useDynamo } from '../support/dynalite';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { GITHUB_API } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

// One pace for all broker containers: when GitHub tells one to wait, none calls GitHub for that
// installation until the window has passed. The containers share the control table (dynalite);
// time is a clock the test moves, and a container's sleep waits until the test moves it.
const key = deriveSealKey(TEST_SECRET);
const dynamo = useDynamo();
const START = Date.parse('2026-12-02T10:00:00Z');

/** The test's clock: sleeps are held until `advance` passes their end. */
function testClock() {
  let now = START;
  const sleepers: { until: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        sleepers.push({ until: now + ms, wake });
      }),
    sleeping: () => sleepers.length,
    advance(ms: number) {
      now += ms;
      for (const sleeper of sleepers.splice(0)) {
        if (sleeper.until <= now) sleeper.wake();
        else sleepers.push(sleeper);
      }
    },
  };
}

type Call = { at: number; method: string; path: string; status: number };

/**
 * GitHub for installation 77: the first read of job 1001 is refused with 429 and `retry-after`
 * (a secondary limit); everything else succeeds. Every call is recorded at the test's time.
 */
function github(clock: ReturnType<typeof testClock>, retryAfter: string) {
  const calls: Call[] = [];
  let refused = false;
  let id = 900;
  const record = (method: string, path: string, status: number) =>
    calls.push({ at: clock.now(), method, path, status });
  nock(GITHUB_API)
    .persist()
    .post('/app/installations/77/access_tokens')
    .reply(function () {
      record('POST', this.req.path, 201);
      return [201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() }];
    })
    .get(/\/repos\/acme\/app\/actions\/jobs\/\d+$/)
    .reply(function () {
      if (!refused && this.req.path.endsWith('/1001')) {
        refused = true;
        record('GET', this.req.path, 429);
        return [
          429,
          { message: 'You have exceeded a secondary rate limit' },
          { 'retry-after': retryAfter },
        ];
      }
      record('GET', this.req.path, 200);
      return [200, { id: Number(this.req.path.split('/').pop()), status: 'queued' }];
    })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(function () {
      id += 1;
      record('POST', this.req.path, 201);
      return [201, { runner: { id }, encoded_jit_config: encodeJitConfig(id, 'x') }];
    });
  return calls;
}

let table = '';
let tables = 0;
beforeEach(async () => {
  nock.cleanAll();
  tables += 1;
  table = await createControlTable(
    dynamo.current.endpoint,
    `pace-${tables}`,
    dynamo.current.client,
  );
});

/** A broker container; with `shared`, it keeps its pace in the control table with the others. */
function container(clock: ReturnType<typeof testClock>, shared = true) {
  const captured = captureLog();
  const started: string[] = [];
  const handler = createBrokerHandler({
    env: {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_FUNCTION_NAME: 'runner',
      ...(shared ? { CONTROL_TABLE: table } : {}),
    },
    clients: { lambda: {} as never, secretsManager: {} as never, dynamodb: dynamo.current.client },
    executors: { lambda: async (payload) => void started.push(payload.runnerName) },
    log: captured.log,
    retryAfterBaseValue: 1,
    rateLimitClock: clock,
  });
  return { handler, started, ...captured };
}

async function until(probe: () => boolean) {
  for (let i = 0; i < 500 && !probe(); i += 1) await new Promise((r) => setTimeout(r, 10));
  expect(probe()).toBe(true);
}

describe('one pace for every broker container', () => {
  it('a 429 with retry-after: no container calls GitHub for that installation inside the window, then both start their runners', async () => {
    const clock = testClock();
    const calls = github(clock, '30');
    const [a, b] = [container(clock), container(clock)];
    const first = a.handler(seal(dispatchRequest({ jobId: 1001 }), key));
    await until(() => clock.sleeping() === 1); // A was refused, and waits
    const second = b.handler(seal(dispatchRequest({ jobId: 1002 }), key));
    await until(() => clock.sleeping() === 2); // B waits too, before any call of its own
    expect(calls.map((call) => `${call.method} ${call.path} ${call.status}`)).toEqual([
      'POST /app/installations/77/access_tokens 201',
      'GET /repos/acme/app/actions/jobs/1001 429',
    ]);
    clock.advance(30_000);
    await expect(first).resolves.toEqual({ result: 'started' });
    await expect(second).resolves.toEqual({ result: 'started' });
    const windowEnd = START + 30_000;
    expect(calls.slice(2).filter((call) => call.at < windowEnd)).toEqual([]);
    expect([...a.started, ...b.started]).toEqual(['lambda-1001-1-1', 'lambda-1002-1-1']);
    expect(a.records().some((line) => line.msg === 'GitHub rate limit: every broker waits')).toBe(
      true,
    );
  });

  it('without the shared table a second container calls inside the window (what the table prevents)', async () => {
    const clock = testClock();
    const calls = github(clock, '30');
    const [a, b] = [container(clock, false), container(clock, false)];
    const first = a.handler(seal(dispatchRequest({ jobId: 1001 }), key));
    await until(() => clock.sleeping() === 1);
    await expect(b.handler(seal(dispatchRequest({ jobId: 1002 }), key))).resolves.toEqual({
      result: 'started',
    });
    expect(calls.filter((call) => call.at < START + 30_000).length).toBeGreaterThan(2);
    clock.advance(30_000);
    await first;
  });

  it('a wait longer than a function should sleep: the event fails retryable, no further call', async () => {
    const clock = testClock();
    const calls = github(clock, '1800');
    const a = container(clock);
    await expect(a.handler(seal(dispatchRequest({ jobId: 1001 }), key))).rejects.toMatchObject({
      name: 'RateLimitedError',
      retryable: true,
    });
    expect(calls.map((call) => call.status)).toEqual([201, 429]);
    // Another container, later but inside the window, is refused the same way without a call.
    clock.advance(60_000);
    const b = container(clock);
    await expect(b.handler(seal(dispatchRequest({ jobId: 1002 }), key))).rejects.toMatchObject({
      name: 'RateLimitedError',
    });
    expect(calls).toHaveLength(2);
  });
});

describe('what counts as being told to wait', () => {
  const now = START;
  it.each([
    ['429 with retry-after', { status: 429, headers: { 'retry-after': '7' } }, now + 7000],
    ['403 with retry-after', { status: 403, headers: { 'retry-after': '3' } }, now + 3000],
    [
      'the primary limit spent',
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 120) },
      },
      now + 121_000,
    ],
    ['429 without a header: a minute', { status: 429, headers: {} }, now + 60_000],
    [
      'a secondary limit message without a header',
      { status: 403, message: 'You have exceeded a secondary rate limit', headers: {} },
      now + 60_000,
    ],
    [
      'a 403 that is no limit (forbidden)',
      { status: 403, message: 'Resource not accessible', headers: {} },
      undefined,
    ],
    ['a 500', { status: 500, headers: { 'retry-after': '5' } }, undefined],
  ])('%s', (_name, answer, expected) => {
    expect(limitedUntil(answer, now)).toBe(expected);
  });
});

describe("the points budget: GitHub's 900 a minute, spent by every container together", () => {
  const log = captureLog().log;
  /** Two containers on one clock, sharing the table (or not), with a budget of 20 points. */
  function containers(shared: boolean) {
    const clock = testClock();
    const store = shared ? { dynamodb: dynamo.current.client, tableName: table } : {};
    const pace = () =>
      createPace({ ...store, log, pointsPerMinute: 20, now: clock.now, sleep: clock.sleep });
    return { clock, first: pace(), second: pace() };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('a container waits for the next minute once the others spent it, and no sooner', async () => {
    const { clock, first, second } = containers(true);
    // 10 reads and 2 writes: the minute's 20 points.
    for (let i = 0; i < 10; i += 1) await first.spend('installation-77', pointsOf('GET'));
    await first.spend('installation-77', pointsOf('POST'));
    await second.spend('installation-77', pointsOf('DELETE'));
    let called = false;
    const next = second.spend('installation-77', pointsOf('GET')).then(() => (called = true));
    await settle();
    expect(called).toBe(false);
    clock.advance(30_000);
    await settle();
    expect(called).toBe(false);
    clock.advance(30_000);
    await next;
    expect(called).toBe(true);
    // Another caller has a budget of its own.
    await first.spend('app', pointsOf('POST'));
  });

  it('without the shared table each container spends a budget of its own (what the table prevents)', async () => {
    const { first, second } = containers(false);
    for (let i = 0; i < 4; i += 1) await first.spend('installation-77', pointsOf('POST'));
    let called = false;
    void second.spend('installation-77', pointsOf('POST')).then(() => (called = true));
    await settle();
    expect(called).toBe(true);
  });

  it('a wait longer than a function should sleep fails the event as retryable, until the next minute', async () => {
    const clock = testClock();
    const pace = createPace({
      dynamodb: dynamo.current.client,
      tableName: table,
      log,
      pointsPerMinute: 5,
      maxWaitMs: 1000,
      now: clock.now,
      sleep: clock.sleep,
    });
    await pace.spend('installation-78', pointsOf('POST'));
    await expect(pace.spend('installation-78', pointsOf('GET'))).rejects.toMatchObject({
      name: 'RateLimitedError',
      until: START + 60_000,
    });
  });
});
