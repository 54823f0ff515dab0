/**
 * One job, one execution environment, end to end: 200 jobs through the local stack (serverless
 * offline, the fake GitHub, the control table in dynalite) with the runner profile at isolation
 * `version`, and Lambda's API in front of serverless offline modelled as AWS documents it (a
 * set of environments per version, a second-long update lock and publish, concurrent updates
 * refused). Every runner event must land in an environment no other event reached, no version
 * may be left behind, and no job attempt may get more runners than the dispatch limit, replayed
 * destination records included.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createFakeRunnerTree } from '../support/fake-runner-tree';
import { appKeys } from '../support/github-app';
import { deliverUntilAnswered, queuedJobFor } from './deliveries';
import { FakeGitHub } from './fake-github';
import { startLambdaFront, type LambdaFront } from './lambda-front';
import {
  stackEnvironment,
  startDynaliteStage,
  startFrontDoor,
  startOffline,
  stopStage,
  tail,
  type Stage,
  suiteLogDir,
  invokeBroker as invokeLocalBroker,
} from './local-stack';

const root = path.resolve(__dirname, '../..');
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-isolation-'));
const logDir = suiteLogDir('isolation');
const sourceDir = path.join(base, 'actions-runner');
const recordFile = path.join(base, 'listener-record.jsonl');
const scenariosFile = path.join(base, 'scenarios.json');
const deadLetters = path.join(base, 'dead-letters');
const RUNNER_FUNCTION = 'lambda-runner-e2e-runner-default';
const POOL = 2;
const DISPATCH_LIMIT = 3;

const fake = new FakeGitHub(appKeys.publicKey, '4242');
let dynamo: Awaited<ReturnType<typeof startDynaliteStage>> | undefined;
let offline: Stage | undefined;
let door: { url: string; close: () => Promise<void> } | undefined;
let lambdaFront: LambdaFront | undefined;
let webhookUrl = '';

// Generous: every wait ends on its outcome; these bounds only stop a suite that hangs.
jest.setTimeout(1_500_000);

const JOBS = Array.from({ length: 200 }, (_, i) => 40_000 + i);
/** A tenth of the runners crash before their job: the broker dispatches again, to a new version. */
const CRASH_FIRST = JOBS.filter((id) => id % 10 === 3);

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/offline/handlers.js')))
    await promisify(execFile)('node', ['scripts/build.mjs'], { cwd: root });
  await createFakeRunnerTree(sourceDir);
  writeFileSync(
    scenariosFile,
    JSON.stringify(Object.fromEntries(CRASH_FIRST.map((id) => [`lambda-${id}-1-1`, 'exit:1']))),
  );
  await fake.start();
  door = await startFrontDoor(`${fake.url}/github`);
  dynamo = await startDynaliteStage(logDir);
  const files = { sourceDir, workRoot: path.join(base, 'work'), recordFile, scenariosFile };
  const env = stackEnvironment(door.url, files, {
    CONTROL_TABLE: dynamo.tableName,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    RUNNER_ISOLATION: 'version',
    RUNNER_ENVIRONMENT_POOL: String(POOL),
    RUNNER_DEPLOYMENT: 'e2e',
    OFFLINE_DEAD_LETTER_DIR: deadLetters,
    // Fake listeners on a loaded two-core machine: a generous deadline (240 s of offline's 900).
    RUNNER_IDLE_TIMEOUT_SECONDS: '300',
    RUNNER_DEADLINE_MARGIN_SECONDS: '660',
    FAKE_RUNNER_JOB_MS: '50',
  });
  const stack = await startOffline(env, logDir, async (offlineLambda) => {
    lambdaFront = await startLambdaFront(offlineLambda, {
      [RUNNER_FUNCTION]: { RUNNER_SOURCE_DIR: sourceDir },
    });
    return lambdaFront.url;
  });
  offline = stack.stage;
  webhookUrl = stack.webhookUrl;
}, 300_000);

afterAll(async () => {
  await stopStage(offline);
  await stopStage(dynamo?.stage);
  await lambdaFront?.close();
  await door?.close();
  await fake.stop();
  if (!process.env.E2E_KEEP) rmSync(base, { recursive: true, force: true });
  else console.error(`isolation files kept in ${base}`);
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts)
    console.error(`serverless offline:\n${tail(offline, 6000)}`);
});

async function invokeBroker(event: unknown, sync = false): Promise<void> {
  await invokeLocalBroker(lambdaFront!.url, event, sync);
}

const schedule = () =>
  invokeBroker({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, true);

async function until(what: string, probe: () => boolean, boundMs: number): Promise<void> {
  for (const end = Date.now() + boundMs; !probe();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

type RunnerEvent = {
  jobId: number;
  runAttempt: number;
  dispatch: number;
  functionVersion?: string;
};
const runnerInvocations = () =>
  lambdaFront!.model.invocations.filter((i) => i.functionName === RUNNER_FUNCTION);
const done = (id: number) => fake.jobs.get(id) === 'completed';
const ours = () => [...fake.runners.values()].filter((r) => /^lambda-4\d{4}-/.test(r.name));

/** Ten at a time, the broker's reserved concurrency: each wave's runners need ten versions. */
async function dispatchInWaves(): Promise<void> {
  for (let i = 0; i < JOBS.length; i += 10) {
    const wave = JOBS.slice(i, i + 10);
    const answers = await Promise.all(
      wave.map((id) => deliverUntilAnswered(webhookUrl, queuedJobFor(id), `isolation-${id}`)),
    );
    expect(answers.filter((answer) => answer.status !== 202)).toEqual([]);
    const dispatched = (id: number) =>
      runnerInvocations().some((r) => (r.event as RunnerEvent).jobId === id);
    await until(`wave ${i / 10 + 1} dispatched`, () => wave.every(dispatched), 300_000);
  }
}

/** The schedule replays what failed (to the dead-letter directory) until every job ran. */
async function scheduleUntilDone(): Promise<void> {
  for (let round = 0; !JOBS.every(done); round += 1) {
    if (round > 120)
      throw new Error(`jobs never ran: ${JOBS.filter((id) => !done(id)).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    if (existsSync(deadLetters) && readdirSync(deadLetters).length > 0) await schedule();
  }
}

/** Runner events counted by a key of each. */
function countBy(key: (r: ReturnType<typeof runnerInvocations>[number]) => number | string) {
  const counts = new Map<number | string, number>();
  for (const r of runnerInvocations()) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  return counts;
}

describe('one job per execution environment, through the local stack', () => {
  it('200 jobs: each runs in an environment no other event reached; no version left; dispatches within the limit, replays included', async () => {
    await dispatchInWaves();
    await scheduleUntilDone();
    await until('every registration to go', () => ours().length === 0, 300_000);

    // Replays: every fifth job's destination records, delivered twice more.
    const before = runnerInvocations().length;
    const replayed = lambdaFront!.records.filter(
      (record) => ((record.requestPayload as RunnerEvent | undefined)?.jobId ?? 1) % 5 === 0,
    );
    for (const record of [...replayed, ...replayed]) await invokeBroker(record, true);
    await schedule(); // and the schedule sweeps what leaked
    const versionsLive = () => lambdaFront!.model.liveVersions(RUNNER_FUNCTION);
    const used = new Set(runnerInvocations().map((r) => r.qualifier));
    await until(
      'every used version to be deleted',
      () => versionsLive().every((v) => !used.has(v)),
      120_000,
    );

    const invocations = runnerInvocations();
    const byEnvironment = countBy((r) => r.environment);
    const byAttempt = countBy((r) => (r.event as RunnerEvent).jobId);
    const calls = [...lambdaFront!.model.calls.values()].reduce((sum, n) => sum + n, 0);
    console.log(
      `isolation: ${JOBS.length} jobs, ${invocations.length} runner events in ${byEnvironment.size} environments, ` +
        `${replayed.length * 2} records replayed (${invocations.length - before} runner events after), ` +
        `live versions at the end ${versionsLive().length} (pool ${POOL}), ` +
        `control-plane calls ${calls} = ${(calls / invocations.length).toFixed(1)} per runner event ` +
        `(${[...lambdaFront!.model.calls].map(([op, n]) => `${op} ${n}`).join(', ')})`,
    );

    expect(JOBS.filter((id) => (fake.jobsRun.get(id) ?? 0) !== 1)).toEqual([]);
    expect(invocations.filter((r) => r.qualifier === '$LATEST')).toEqual([]);
    expect([...byEnvironment.values()].filter((count) => count !== 1)).toEqual([]);
    expect(new Set(invocations.map((r) => r.qualifier)).size).toBe(invocations.length);
    expect(Math.max(...byAttempt.values())).toBeLessThanOrEqual(DISPATCH_LIMIT);
    expect(CRASH_FIRST.filter((id) => byAttempt.get(id) !== 2)).toEqual([]);
    expect(invocations.length - before).toBe(0);
    expect(versionsLive().length).toBeLessThanOrEqual(POOL);
    expect(ours()).toEqual([]);
  });
});
