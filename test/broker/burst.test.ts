import type { BurstReport } from '../support/burst/burst';
import { runBurstApart as runBurst } from '../support/burst/child';

// A burst of 1,000 queued jobs through the real webhook and broker handlers, on a virtual clock,
// against a GitHub that enforces its documented limits (5,000 requests an hour, 900 points a
// minute, 100 concurrent requests, 10,000 registrations an hour; 403 and 429 with retry-after).
// `npm run bench` runs 3,000. See test/support/burst/burst.ts for what is real and what is not.
jest.setTimeout(240_000);

let burst: BurstReport;
beforeAll(async () => {
  burst = await runBurst({ jobs: 1000 });
  console.log(`burst: ${JSON.stringify(burst)}`);
});

it('loses no job, runs none twice and leaves no registration', () => {
  expect(burst).toMatchObject({
    completed: 1000,
    lost: 0,
    ranTwice: 0,
    registrationsLeft: 0,
    deadLetters: 0,
    timeouts: 0,
    webhookFailures: 0,
  });
});

it('makes no call inside a window GitHub opened, for any caller', () => {
  expect(burst.callsInsideWindows).toEqual({});
});

it('mints one installation token per broker cold start (and installation) at most', () => {
  expect(burst.coldStarts).toBeGreaterThan(0);
  expect(burst.maxMintsPerColdStart).toBeLessThanOrEqual(1);
});

it('costs at most 2.5 GitHub calls per job, 1.5 of them against the installation', () => {
  expect(burst.callsPerJob).toBeLessThanOrEqual(2.5);
  expect(burst.installationCallsPerJob).toBeLessThanOrEqual(1.5);
});

it('dispatches every job within 1.2 times the pacing floor, waiting in the queue, not in functions', () => {
  // 1,000 registrations at 5 points are 5,000 points: six minutes' worth of GitHub's 900.
  expect(burst.floorMs).toBeGreaterThan(4 * 60_000);
  expect(burst.ratio).toBeLessThanOrEqual(1.2);
  expect(burst.waitedInQueue).toBeGreaterThan(0);
});

it('two Apps dispatch the same burst in about half the time, each App under its own limits', async () => {
  const two = await runBurst({ jobs: 1000, apps: 2 });
  console.log(`burst, two Apps: ${JSON.stringify(two)}`);
  expect(two).toMatchObject({ lost: 0, registrationsLeft: 0, callsInsideWindows: {} });
  expect(two.maxMintsPerColdStart).toBeLessThanOrEqual(1);
  expect(two.ratio).toBeLessThanOrEqual(1.2);
  expect(two.dispatchedAllMs).toBeLessThanOrEqual(0.55 * burst.dispatchedAllMs);
});

it('brokers killed between a registration and its start lose no job: each job is dispatched again', async () => {
  // Five containers stop the moment GitHub registered their runner; their batches come back
  // after the queue's visibility timeout, and the 409 on the same name reclaims the registration.
  const killed = await runBurst({ jobs: 200, killAfterRegistration: 5 });
  expect(killed).toMatchObject({
    killed: 5,
    completed: 200,
    lost: 0,
    ranTwice: 0,
    registrationsLeft: 0,
    deadLetters: 0,
  });
});

describe('a GitHub tighter than its published limits', () => {
  it('600 points a minute where the brokers budget 900: its 403s and 429s are honoured, no call inside their windows, no job lost', async () => {
    const tight = await runBurst({ jobs: 1000, github: { pointsPerMinute: 600 } });
    console.log(`burst, 600 points a minute: ${JSON.stringify(tight)}`);
    expect(tight.refusedWith['403']).toBeGreaterThan(0);
    expect(tight.refusedWith['429']).toBeGreaterThan(0);
    expect(tight).toMatchObject({ lost: 0, registrationsLeft: 0, deadLetters: 0, timeouts: 0 });
    expect(tight.callsInsideWindows).toEqual({});
  });

  it('500 requests an hour: the brokers wait for the reset, none calls inside the window, no job is lost', async () => {
    const hourly = await runBurst({ jobs: 1000, github: { hourly: 500 } });
    console.log(`burst, 500 requests an hour: ${JSON.stringify(hourly)}`);
    expect(hourly).toMatchObject({ lost: 0, registrationsLeft: 0, deadLetters: 0 });
    expect(hourly.callsInsideWindows).toEqual({});
    expect(hourly.dispatchedAllMs).toBeGreaterThan(3600_000);
  });
});

describe('a planted fault makes it fail', () => {
  it('brokers that ignore the shared wait call GitHub inside its windows', async () => {
    const faulty = await runBurst({ jobs: 1000, fault: 'ignore-shared-wait' });
    expect(faulty.callsInsideWindows['installation-77']).toBeGreaterThan(0);
  });

  it('a broker that drops a job GitHub refused loses jobs', async () => {
    const faulty = await runBurst({
      jobs: 1000,
      fault: 'drop-refused',
      maxVirtualMs: 3600_000,
    });
    expect(faulty.lost).toBeGreaterThan(0);
  });
});
