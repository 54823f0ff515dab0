import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createFakeRunnerTree } from '../support/fake-runner-tree';
import { appKeys } from '../support/github-app';
import { postDelivery, queuedJobFor } from './deliveries';
import { FakeGitHub } from './fake-github';
import { FakeSqs } from './fake-sqs';
import {
  invokeBroker,
  startDynaliteStage,
  startFrontDoor,
  startOffline,
  stackEnvironment,
  stopStage,
  suiteLogDir,
  tail,
  type Stage,
} from './local-stack';

// The deployed topology through the local stack: the webhook puts jobs on the dispatch queue and
// records our jobs' states from their deliveries (GitHub sends in_progress and completed as its
// runners take and finish jobs), the broker reads both queues through event source mappings (a
// fake SQS that keeps visibility timeouts, redrive and batches), runners' ends go to the settle
// queue.
const root = path.resolve(__dirname, '../..');
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-queues-'));
const logDir = suiteLogDir('queues');
const recordFile = path.join(base, 'listener-record.jsonl');
const scenariosFile = path.join(base, 'scenarios.json');
const fake = new FakeGitHub(appKeys.publicKey, '4242');
const sqs = new FakeSqs();
let dynamo: Awaited<ReturnType<typeof startDynaliteStage>> | undefined;
let offline: Stage | undefined;
let front: { url: string; close: () => Promise<void> } | undefined;
let webhookUrl = '';
let lambdaUrl = '';

jest.setTimeout(300_000);

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/offline/handlers.js')))
    await promisify(execFile)('node', ['scripts/build.mjs'], { cwd: root });
  const sourceDir = path.join(base, 'actions-runner');
  await createFakeRunnerTree(sourceDir);
  writeFileSync(scenariosFile, '{}');
  await fake.start();
  // GitHub straight from the fake (the other suites check its schema through Prism).
  front = await startFrontDoor(`${fake.url}/github`);
  dynamo = await startDynaliteStage(logDir);
  await sqs.start();
  const deadLetters = sqs.create('lambda-runner-e2e-broker-dlq', { visibilityMs: 30_000 });
  const redrive = { maxReceives: 3, deadLetter: 'lambda-runner-e2e-broker-dlq' };
  const dispatch = sqs.create('lambda-runner-e2e-dispatch', { visibilityMs: 2000, ...redrive });
  const settle = sqs.create('lambda-runner-e2e-settle', { visibilityMs: 2000, ...redrive });
  const env = stackEnvironment(
    front.url,
    { sourceDir, workRoot: path.join(base, 'work'), recordFile, scenariosFile },
    {
      CONTROL_TABLE: dynamo.tableName,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.url,
      OFFLINE_DISPATCH: 'queue',
      OFFLINE_JOB_STATES: 'record',
      DISPATCH_QUEUE_URL: dispatch,
      SETTLE_QUEUE_URL: settle,
      OFFLINE_SETTLE_QUEUE_URL: settle,
      BROKER_DLQ_URL: deadLetters,
      // Waits longer than a second go back to the queue (5 s as deployed).
      RATE_LIMIT_MAX_SLEEP_SECONDS: '1',
    },
  );
  const stack = await startOffline(env, logDir);
  offline = stack.stage;
  webhookUrl = stack.webhookUrl;
  lambdaUrl = stack.lambdaUrl;
  sqs.lambdaUrl = lambdaUrl;
  fake.webhookUrl = webhookUrl;
  fake.jobEvents = true;
  sqs.mapToBroker('lambda-runner-e2e-dispatch', { concurrency: 2 });
  sqs.mapToBroker('lambda-runner-e2e-settle', { concurrency: 2 });
}, 240_000);

afterAll(async () => {
  await sqs.stop();
  await stopStage(offline);
  await stopStage(dynamo?.stage);
  await front?.close();
  await fake.stop();
  if (!process.env.E2E_KEEP) rmSync(base, { recursive: true, force: true });
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts)
    console.error(`serverless offline:\n${tail(offline, 6000)}`);
});

async function waitFor<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const until = Date.now() + 180_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function settled(runnerName: string): Record<string, unknown> | undefined {
  return readFileSync(offline!.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(runnerName))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.runnerName === runnerName && line.msg === 'runner settled');
}

const sent = (queue: string) =>
  sqs.calls.filter((call) => call.action === 'SendMessage' && call.queue === queue);
const jobCalls = (jobId: number) =>
  fake.calls.filter((call) => call.path.endsWith(`/actions/jobs/${jobId}`));
const registrations = (since: number) =>
  fake.calls.filter((call) => call.path.endsWith('/generate-jitconfig') && call.at >= since);

describe('the broker queues, through the local stack', () => {
  it('a job: the webhook queues it, a broker takes it from the queue, its end comes back by the settle queue', async () => {
    const answer = await postDelivery(webhookUrl, queuedJobFor(6001), 'queues-6001');
    expect(answer).toMatchObject({ status: 202, body: { result: 'dispatched', jobId: 6001 } });
    expect(sent('lambda-runner-e2e-dispatch')).toHaveLength(1);
    // Its deliveries said the job was done on this runner, which GitHub removed: nothing to ask.
    expect(await waitFor('the runner settled', () => settled('lambda-6001-1-1'))).toMatchObject({
      condition: 'Success',
      jobStatus: 'completed',
      source: 'deliveries',
      registration: 'gone',
    });
    expect(jobCalls(6001)).toEqual([]);
    expect(fake.jobsRun.get(6001)).toBe(1);
    expect(sent('lambda-runner-e2e-settle')).toHaveLength(1);
    await waitFor(
      'both queues empty',
      () => sqs.depth('lambda-runner-e2e-dispatch') + sqs.depth('lambda-runner-e2e-settle') === 0,
    );
    // What one job costs in GitHub calls (the broker's, not the runner's own).
    const broker = fake.calls.filter(
      (call) => call.auth !== 'none' && /jobs\/6001$|runners|access_tokens/.test(call.path),
    );
    console.log(
      `queues: one job, ${broker.length} broker calls to GitHub: ${broker.map((c) => `${c.method} ${c.path.replace(/^\/repos\/acme\/app/, '')} ${c.status}`).join(', ')}`,
    );
  });

  it('GitHub asks to wait: the job waits in the queue, hidden, and no call is made inside the window', async () => {
    const since = Date.now();
    fake.fail('POST', /\/generate-jitconfig$/, 429, 1, { 'retry-after': '4' });
    expect((await postDelivery(webhookUrl, queuedJobFor(6002), 'queues-6002')).status).toBe(202);
    expect(await waitFor('the runner settled', () => settled('lambda-6002-1-1'))).toMatchObject({
      jobStatus: 'completed',
    });
    const limited = fake.calls.find((call) => call.status === 429)!;
    const hidden = sqs.calls.find((call) => call.action === 'ChangeMessageVisibility')!;
    expect(hidden.input.VisibilityTimeout).toBeGreaterThanOrEqual(3);
    // Nothing went to GitHub for the installation inside the window it opened.
    const inside = fake.calls.filter(
      (call) => call.at > limited.at && call.at < limited.at + 3500 && call.auth !== 'none',
    );
    expect(inside).toEqual([]);
    expect(registrations(since).map((call) => call.status)).toEqual([429, 201]);
    expect(fake.jobsRun.get(6002)).toBe(1);
  });

  it('a job whose dispatch keeps failing goes to the dead-letter queue, and the schedule replays it once GitHub answers', async () => {
    fake.fail('POST', /\/generate-jitconfig$/, 500, 40);
    expect((await postDelivery(webhookUrl, queuedJobFor(6003), 'queues-6003')).status).toBe(202);
    await waitFor('the dead-letter queue', () => sqs.depth('lambda-runner-e2e-broker-dlq') === 1);
    expect(sqs.depth('lambda-runner-e2e-dispatch')).toBe(0);
    // GitHub answers again: the schedule's replay dispatches it.
    fake.clearFaults();
    const { answer } = await invokeBroker(
      lambdaUrl,
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      true,
    );
    expect(answer).toMatchObject({ replays: { replayed: 1 } });
    expect(await waitFor('the runner settled', () => settled('lambda-6003-1-1'))).toMatchObject({
      jobStatus: 'completed',
    });
    expect(fake.jobsRun.get(6003)).toBe(1);
  });
});
