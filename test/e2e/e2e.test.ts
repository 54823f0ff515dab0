import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stateChange } from '../../src/local-builds';
import { deriveSealKey, seal } from '../../src/seal';
import { createFakeRunnerTree } from '../support/fake-runner-tree';
import { appKeys } from '../support/github-app';
import { processesWith } from '../support/processes';
import { TEST_SECRET, delivery } from '../support/webhook-events';
import {
  deliverUntilAnswered as redeliverUntilAnswered,
  postDelivery,
  queuedJobFor,
} from './deliveries';
import { FakeCodeBuild } from './fake-codebuild';
import { FakeGitHub } from './fake-github';
import {
  freePort,
  invokeBroker,
  startFrontDoor,
  startDynaliteStage,
  startOffline,
  startPrism,
  stackEnvironment,
  stopStage,
  tail,
  type Stage,
  suiteLogDir,
} from './local-stack';

const root = path.resolve(__dirname, '../..');
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-e2e-'));
const logDir = suiteLogDir('e2e');
const workRoot = path.join(base, 'work');
const sourceDir = path.join(base, 'actions-runner');
const recordFile = path.join(base, 'listener-record.jsonl');
const scenariosFile = path.join(base, 'scenarios.json');
const scenarios: Record<string, string> = {};
// The stage's profiles: the default Lambda profile, and Docker jobs in CodeBuild builds.
const profilesFile = path.join(base, 'profiles.json');
const DOCKER_LABELS = ['self-hosted', 'lambda-runner', 'docker'];
let codebuild: FakeCodeBuild | undefined;

const fake = new FakeGitHub(appKeys.publicKey, '4242');
let prism: Stage | undefined;
// The control table, as the stack has it: runner starts per job attempt (dynalite).
let dynamo: Awaited<ReturnType<typeof startDynaliteStage>> | undefined;
let offline: Stage | undefined;
let front: { url: string; close: () => Promise<void> } | undefined;
let webhookUrl = '';
let lambdaUrl = '';
let env: NodeJS.ProcessEnv = {};

// Generous: every wait ends on its outcome; these bounds only stop a suite that hangs.
jest.setTimeout(300_000);

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/webhook/index.js')))
    await promisify(execFile)('node', ['scripts/build.mjs'], { cwd: root });
  await createFakeRunnerTree(sourceDir);
  writeFileSync(scenariosFile, '{}');
  writeFileSync(
    profilesFile,
    JSON.stringify([
      { name: 'default', labels: ['self-hosted', 'lambda-runner'] },
      {
        name: 'docker',
        labels: DOCKER_LABELS,
        executor: 'codebuild',
        computeType: 'BUILD_GENERAL1_MEDIUM',
        timeoutMinutes: 120,
        docker: true,
      },
    ]),
  );
  await fake.start();
  const started = await startPrism(fake, logDir);
  prism = started.stage;
  front = await startFrontDoor(started.url);
  dynamo = await startDynaliteStage(logDir);
  codebuild = new FakeCodeBuild({
    entry: path.join(root, 'dist/runner/codebuild.js'),
    // A build's machine is its own, with no Lambda deadline: the build's timeout bounds it.
    env: stackEnvironment(
      front.url,
      { sourceDir, workRoot: path.join(base, 'build-work'), recordFile, scenariosFile },
      { RUNNER_DEADLINE_MARGIN_SECONDS: '10', RUNNER_IDLE_TIMEOUT_SECONDS: '600' },
    ),
    logDir,
  });
  await codebuild.start();
  env = stackEnvironment(
    front.url,
    { sourceDir, workRoot, recordFile, scenariosFile },
    {
      CONTROL_TABLE: dynamo.tableName,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_CODEBUILD: codebuild.url,
      RUNNER_PROFILES_FILE: profilesFile,
    },
  );
  const stack = await startOffline(env, logDir);
  offline = stack.stage;
  webhookUrl = stack.webhookUrl;
  lambdaUrl = stack.lambdaUrl;
  codebuild.lambdaUrl = lambdaUrl;
}, 240_000);

afterAll(async () => {
  await codebuild?.stop();
  await stopStage(offline);
  await stopStage(prism);
  await stopStage(dynamo?.stage);
  await front?.close();
  await fake.stop();
  if (!process.env.E2E_KEEP) rmSync(base, { recursive: true, force: true });
  else console.error(`e2e files kept in ${base}`);
});

/** On a failure, show the logs of each stage of the stack. */
afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) {
    console.error(`serverless offline:\n${tail(offline)}\n\nprism:\n${tail(prism)}`);
  }
});

const job = queuedJobFor;
const post = (payload: unknown, deliveryId?: string) =>
  postDelivery(webhookUrl, payload, deliveryId);

function scenario(runnerName: string, name: string) {
  scenarios[runnerName] = name;
  writeFileSync(scenariosFile, JSON.stringify(scenarios));
}

function offlineLines(): Record<string, unknown>[] {
  return readFileSync(offline!.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

function outcome(runnerName: string): Record<string, unknown> | undefined {
  return offlineLines().find(
    (line) =>
      line.runnerName === runnerName &&
      typeof line.msg === 'string' &&
      line.msg.startsWith('runner ') &&
      'outcome' in line,
  );
}

/** The broker's decision lines about one job. */
function brokerLines(jobId: number, msg?: RegExp): Record<string, unknown>[] {
  return offlineLines().filter(
    (line) =>
      line.jobId === jobId &&
      typeof line.msg === 'string' &&
      (!msg || msg.test(line.msg)) &&
      'decision' in line &&
      'dispatch' in line,
  );
}

/** The broker's settling of one runner, once its destination record arrived. */
function settled(runnerName: string): Record<string, unknown> | undefined {
  return offlineLines().find(
    (line) => line.runnerName === runnerName && line.msg === 'runner settled',
  );
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 120_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function listenerRuns(runnerName: string) {
  if (!existsSync(recordFile)) return [];
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter(
      (entry) =>
        (entry.argv as string[] | undefined)?.[0] === 'run' &&
        String(entry.root).includes(runnerName),
    );
}

function callsFor(pattern: RegExp) {
  return fake.calls.filter((call) => pattern.test(`${call.method} ${call.path}`));
}

async function expectCleanWorkRoot() {
  await waitFor(
    'an empty work root',
    () => !existsSync(workRoot) || readdirSync(workRoot).length === 0,
    10_000,
  );
  // Processes a job started carry both; serverless offline itself has only the first.
  expect(processesWith(`FAKE_RUNNER_RECORD=${recordFile}`, 'LAMBDA_RUNNER_JOB=')).toEqual([]);
}

describe('the whole flow through serverless offline, Prism and the fake GitHub', () => {
  it('a signed queued job: 202, invoke, JWT then token calls in order, JIT listener, completed, nothing left', async () => {
    const answer = await post(job(5001), 'e2e-5001');
    expect(answer).toEqual({
      status: 202,
      body: { result: 'dispatched', profile: 'default', jobId: 5001, deliveryId: 'e2e-5001' },
    });

    const result = await waitFor('runner lambda-5001-1-1 to finish', () =>
      outcome('lambda-5001-1-1'),
    );
    expect(result).toMatchObject({
      outcome: 'completed',
      jobResult: 'Succeeded',
      exitCode: 0,
      deliveryId: 'e2e-5001',
    });
    const calls = fake.calls
      .filter((call) => /access_tokens|jobs\/5001|generate-jitconfig/.test(call.path))
      .slice(0, 3)
      .map(({ method, path, auth, status }) => ({ method, path, auth, status }));
    expect(calls).toEqual([
      { method: 'POST', path: '/app/installations/77/access_tokens', auth: 'app', status: 201 },
      {
        method: 'GET',
        path: '/repos/acme/app/actions/jobs/5001',
        auth: 'installation',
        status: 200,
      },
      {
        method: 'POST',
        path: '/repos/acme/app/actions/runners/generate-jitconfig',
        auth: 'installation',
        status: 201,
      },
    ]);
    const [run] = listenerRuns('lambda-5001-1-1');
    expect(run!.argv).toEqual(['run', '--jitconfig', fake.jitConfigs.get('lambda-5001-1-1')]);
    expect([...fake.runners.values()].map((runner) => runner.name)).not.toContain(
      'lambda-5001-1-1',
    );
    await expectCleanWorkRoot();
  });

  it('an idle runner is stopped, the broker deletes its registration, and the waiting job gets another', async () => {
    scenario('lambda-5002-1-1', 'idle');
    expect((await post(job(5002))).status).toBe(202);
    expect(await waitFor('runner lambda-5002-1-1', () => outcome('lambda-5002-1-1'))).toMatchObject(
      {
        outcome: 'idle',
      },
    );
    expect(
      await waitFor('the broker to settle it', () => settled('lambda-5002-1-1')),
    ).toMatchObject({
      registration: 'deleted',
      jobStatus: 'queued',
    });
    expect([...fake.runners.values()].map((runner) => runner.name)).not.toContain(
      'lambda-5002-1-1',
    );
    // Nobody took the job, so it still waits: the broker dispatches it again, under a new name.
    expect(await waitFor('the second runner', () => outcome('lambda-5002-1-2'))).toMatchObject({
      outcome: 'completed',
    });
    await expectCleanWorkRoot();
  });

  it('a job that is no longer queued gets no runner', async () => {
    fake.jobs.set(5003, 'completed');
    expect((await post(job(5003))).status).toBe(202);
    expect(await waitFor('the broker', () => brokerLines(5003)[0])).toMatchObject({
      decision: 'not-queued',
    });
    expect(fake.jitConfigs.has('lambda-5003-1-1')).toBe(false);
    expect(listenerRuns('lambda-5003-1')).toEqual([]);
  });

  it('a job that is not ours is answered 200 and never reaches the broker', async () => {
    const answer = await post(job(5004, { labels: ['ubuntu-latest'] }));
    expect(answer).toEqual({
      status: 200,
      body: {
        result: 'ignored',
        reason: expect.stringContaining('do not include "lambda-runner"'),
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(callsFor(/jobs\/5004/)).toEqual([]);
  });
});

describe('duplicates', () => {
  it('the same delivery posted 5 times: exactly one runner registered and started', async () => {
    const payload = job(5101);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => post(payload, 'e2e-dup-5101')),
    );
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202]);
    await waitFor(
      'five broker decisions',
      () => brokerLines(5101).filter((line) => line.dispatch === 1).length === 5 || undefined,
    );
    const decisions = brokerLines(5101)
      .filter((line) => line.dispatch === 1)
      .map((line) => line.decision);
    expect(decisions.filter((value) => value === 'started')).toHaveLength(1);
    expect(
      decisions
        .filter((value) => value !== 'started')
        .every((value) => value === 'duplicate' || value === 'not-queued'),
    ).toBe(true);
    await waitFor('the runner', () => outcome('lambda-5101-1-1'));
    expect(callsFor(/generate-jitconfig/).filter((call) => call.status === 201).length).toBe(
      fake.jitConfigs.size,
    );
    expect(listenerRuns('lambda-5101-1')).toHaveLength(1);
    await expectCleanWorkRoot();
  });

  it('the broker invoked twice with one dispatch request (an async retry): one runner', async () => {
    const request = seal(
      {
        kind: 'dispatch',
        dispatch: 1,
        installationId: 77,
        owner: 'acme',
        repo: 'app',
        jobId: 5102,
        runId: 1,
        runAttempt: 1,
        labels: ['self-hosted', 'lambda-runner'],
        profile: 'default',
        deliveryId: 'retry',
      },
      deriveSealKey(TEST_SECRET),
    );
    const invoke = () => invokeBroker(lambdaUrl, request);
    const [first, second] = await Promise.all([invoke(), invoke()]);
    expect([first.status, second.status]).toEqual([202, 202]);
    await waitFor('both invocations', () => brokerLines(5102).length === 2 || undefined);
    // The second finds the runner registered (duplicate), or, on a slow machine, the job already
    // taken by it (not-queued): never a second start.
    const decisions = brokerLines(5102).map((line) => line.decision);
    expect(decisions.filter((decision) => decision === 'started')).toHaveLength(1);
    expect(decisions.filter((decision) => decision !== 'started')).toEqual([
      expect.stringMatching(/^(duplicate|not-queued)$/),
    ]);
    await waitFor('the runner', () => outcome('lambda-5102-1-1'));
    expect(listenerRuns('lambda-5102-1')).toHaveLength(1);
  });
});

/** The lines the builds wrote (their runners' logs), as CloudWatch keeps a project's. */
function buildLines(): Record<string, unknown>[] {
  if (!codebuild || !existsSync(codebuild.logFile)) return [];
  return readFileSync(codebuild.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

const buildEnded = (runnerName: string) =>
  buildLines().find((line) => line.runnerName === runnerName && line.msg === 'build runner ended');

describe('the CodeBuild executor, through the fake CodeBuild', () => {
  const docker = (jobId: number) => job(jobId, { labels: DOCKER_LABELS });
  const buildsOf = (jobId: number) =>
    codebuild!.started.filter((build) => build.runnerName.startsWith(`lambda-${jobId}-`));

  it('a job whose labels ask for docker runs once, in a build of its own, settled from its end event', async () => {
    const answer = await post(docker(5401), 'e2e-5401');
    expect(answer).toMatchObject({
      status: 202,
      body: { result: 'dispatched', profile: 'docker' },
    });
    expect(await waitFor('the build runner', () => buildEnded('lambda-5401-1-1'))).toMatchObject({
      outcome: 'completed',
    });
    expect(
      await waitFor('the broker to settle it', () => settled('lambda-5401-1-1')),
    ).toMatchObject({
      condition: 'build SUCCEEDED',
      jobStatus: 'completed',
    });
    expect(buildsOf(5401)).toEqual([
      expect.objectContaining({
        projectName: 'lambda-runner-e2e-build-docker',
        runnerName: 'lambda-5401-1-1',
      }),
    ]);
    const [run, ...more] = listenerRuns('lambda-5401-1');
    expect(more).toEqual([]);
    // The listener (and so the job) never sees the build variable that carried its credential.
    expect(run!.envNames).not.toContain('LAMBDA_RUNNER_PAYLOAD');
    expect(run!.envNames).toContain('CODEBUILD_BUILD_ID');
    expect([...fake.runners.values()].map((runner) => runner.name)).not.toContain(
      'lambda-5401-1-1',
    );
    // No runner function was invoked for it.
    expect(outcome('lambda-5401-1-1')).toBeUndefined();
  });

  it('a build that fails before its runner starts: the job is dispatched again and runs once', async () => {
    codebuild!.scenarios.set('lambda-5402-1-1', 'fault');
    expect((await post(docker(5402))).status).toBe(202);
    expect(
      await waitFor('the failed build settled', () => settled('lambda-5402-1-1')),
    ).toMatchObject({
      condition: 'build FAILED',
      registration: 'deleted',
      jobStatus: 'queued',
    });
    expect(await waitFor('the second build', () => buildEnded('lambda-5402-1-2'))).toMatchObject({
      outcome: 'completed',
    });
    await waitFor('the second build settled', () => settled('lambda-5402-1-2'));
    expect(buildsOf(5402).map((build) => build.runnerName)).toEqual([
      'lambda-5402-1-1',
      'lambda-5402-1-2',
    ]);
    expect(listenerRuns('lambda-5402-1')).toHaveLength(1);
    expect([...fake.runners.values()].map((runner) => runner.name)).not.toEqual(
      expect.arrayContaining(['lambda-5402-1-1']),
    );
  });

  it('a build that times out leaves no registration, and its job still runs', async () => {
    scenario('lambda-5403-1-1', 'idle');
    codebuild!.scenarios.set('lambda-5403-1-1', { timeoutMs: 3000 });
    expect((await post(docker(5403))).status).toBe(202);
    expect(
      await waitFor('the timed-out build settled', () => settled('lambda-5403-1-1')),
    ).toMatchObject({
      condition: 'build TIMED_OUT',
      registration: 'deleted',
    });
    expect([...fake.runners.values()].map((runner) => runner.name)).not.toContain(
      'lambda-5403-1-1',
    );
    expect(await waitFor('the next build', () => buildEnded('lambda-5403-1-2'))).toMatchObject({
      outcome: 'completed',
    });
    await waitFor('the next build settled', () => settled('lambda-5403-1-2'));
    // Nothing of the killed build lives on.
    expect(processesWith(`FAKE_RUNNER_RECORD=${recordFile}`, 'CODEBUILD_BUILD_ID=')).toEqual([]);
    expect(
      [...fake.runners.values()]
        .map((runner) => runner.name)
        .filter((name) => name.startsWith('lambda-5403-')),
    ).toEqual([]);
  });

  it('a forged build state change is refused: no GitHub call, no build', async () => {
    const builds = codebuild!.started.length;
    const forgedPayload = {
      kind: 'runner',
      dispatch: 1,
      installationId: 77,
      owner: 'acme',
      repo: 'app',
      jobId: 5404,
      runId: 1,
      runAttempt: 1,
      labels: DOCKER_LABELS,
      profile: 'docker',
      deliveryId: 'forged',
      runnerName: 'lambda-5404-1-1',
      scope: 'repo',
      credential: { jitConfig: 'forged' },
      sealedAt: Date.now(),
      mac: 'f'.repeat(64),
    };
    const forged = stateChange(
      'lambda-runner-e2e-build-docker:forged',
      'lambda-runner-e2e-build-docker',
      'FAILED',
      [{ name: 'LAMBDA_RUNNER_PAYLOAD', value: JSON.stringify(forgedPayload) }],
    );
    expect((await invokeBroker(lambdaUrl, forged)).status).toBe(202);
    const refused = await waitFor('the refusal', () =>
      offlineLines().find(
        (line) => typeof line.msg === 'string' && line.msg.startsWith('build state change refused'),
      ),
    );
    expect(refused).toMatchObject({ decision: 'refused', condition: 'build FAILED' });
    expect(callsFor(/5404/)).toEqual([]);
    expect(codebuild!.started.length).toBe(builds);
  });
});

describe('a burst', () => {
  it('500 signed deliveries, mixed: every matching job reaches the broker, one runner per queued job, none lost', async () => {
    const matching = Array.from({ length: 100 }, (_, i) => 6000 + i);
    // Ten jobs still wait and get a runner each; the rest are already taken, so their dispatch ends
    // at the status check (a hundred listeners at once would only measure the machine).
    const waiting = matching.slice(0, 10);
    for (const id of matching.slice(10)) fake.jobs.set(id, 'in_progress');
    const payloads = [
      ...matching.map((id) => job(id)),
      ...Array.from({ length: 400 }, (_, i) =>
        job(7000 + i, { labels: i % 2 ? ['ubuntu-latest'] : ['self-hosted', 'gpu'] }),
      ),
    ].sort(() => Math.random() - 0.5);
    // A delivery that gets no 2xx is delivered again with its id, as GitHub's redelivery does.
    const attempts = new Map<number, number>();
    const answers = new Map<number, number>();
    const deliverUntilAnswered = async (payload: ReturnType<typeof job>) => {
      const id = payload.workflow_job.id;
      const answer = await redeliverUntilAnswered(webhookUrl, payload, `e2e-burst-${id}`);
      attempts.set(id, answer.attempts);
      answers.set(id, answer.status);
    };
    const started = Date.now();
    for (let i = 0; i < payloads.length; i += 25)
      await Promise.all(payloads.slice(i, i + 25).map(deliverUntilAnswered));
    const seconds = (Date.now() - started) / 1000;
    const redelivered = [...attempts.values()].filter((count) => count > 1).length;
    console.log(
      `burst: ${payloads.length} deliveries in ${seconds.toFixed(1)} s = ${(payloads.length / seconds).toFixed(0)} deliveries/s, ${redelivered} redelivered after a failed answer`,
    );
    expect(matching.filter((id) => answers.get(id) !== 202)).toEqual([]);
    expect([...answers.entries()].filter(([id, status]) => id >= 7000 && status !== 200)).toEqual(
      [],
    );
    await waitFor(
      'every matching job to be checked',
      () => matching.every((id) => callsFor(new RegExp(`jobs/${id}$`)).length > 0) || undefined,
      600_000,
    );
    // A taken job costs one status read per delivery that reached the broker, never more.
    const overRead = matching
      .slice(10)
      .filter((id) => callsFor(new RegExp(`^GET .*/jobs/${id}$`)).length > attempts.get(id)!);
    expect(overRead).toEqual([]);
    expect(callsFor(/jobs\/7\d\d\d$/)).toEqual([]);
    for (const id of waiting)
      await waitFor(`the runner of ${id}`, () => outcome(`lambda-${id}-1-1`), 600_000);
    expect(waiting.map((id) => listenerRuns(`lambda-${id}-1-`).length)).toEqual(
      waiting.map(() => 1),
    );
    expect(matching.slice(10).filter((id) => listenerRuns(`lambda-${id}-1-`).length > 0)).toEqual(
      [],
    );
    await expectCleanWorkRoot();
  }, 1_500_000);
});

describe('faults', () => {
  it('GitHub 5xx and 429 with retry-after on each runner call: retried, then success', async () => {
    fake.fail('POST', /^\/app\/installations\/78\/access_tokens$/, 502);
    fake.fail('GET', /^\/repos\/acme\/app\/actions\/jobs\/5201$/, 429, 1, { 'retry-after': '1' });
    fake.fail('POST', /generate-jitconfig$/, 503);
    expect((await post(job(5201, { installation: 78 }))).status).toBe(202);
    expect(await waitFor('runner lambda-5201-1-1', () => outcome('lambda-5201-1-1'))).toMatchObject(
      {
        outcome: 'completed',
      },
    );
    // The mint refused with 502 is retried and succeeds. A second broker container (serverless
    // offline starts one when the first is still busy, as Lambda does) mints its own token.
    const mints = callsFor(/access_tokens$/)
      .filter((call) => call.path.includes('/78/'))
      .map((call) => call.status);
    expect(mints.slice(0, 2)).toEqual([502, 201]);
    expect(mints.slice(2).filter((status) => status !== 201)).toEqual([]);
    // The dispatch's status check, retried; the broker reads it once more when it settles.
    expect(
      callsFor(/jobs\/5201$/)
        .map((call) => call.status)
        .slice(0, 2),
    ).toEqual([429, 200]);
    await expectCleanWorkRoot();
  });

  it('a token mint failing for good: the broker event fails (to its dead-letter queue), nothing registered', async () => {
    fake.fail('POST', /^\/app\/installations\/79\/access_tokens$/, 401, 50);
    expect((await post(job(5202, { installation: 79 }))).status).toBe(202);
    await waitFor('the broker failure', () =>
      offlineLines().find(
        (line) => line.msg === 'broker event failed' && JSON.stringify(line).includes('79'),
      ),
    );
    expect(fake.jitConfigs.has('lambda-5202-1-1')).toBe(false);
    expect(listenerRuns('lambda-5202-1')).toEqual([]);
  });

  it('the invoke endpoint down: the webhook answers 503 so the delivery can be redelivered', async () => {
    const closed = await freePort();
    const event = delivery(job(5203));
    const script = `require(${JSON.stringify(path.join(root, 'dist/webhook/index.js'))}).handler(${JSON.stringify(event)}).then((a) => console.log(JSON.stringify(a)))`;
    const { stdout } = await promisify(execFile)('node', ['-e', script], {
      env: {
        ...env,
        BROKER_FUNCTION_NAME: 'lambda-runner-e2e-broker',
        RUNNER_DISPATCH: 'lambda',
        AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${closed}`,
        AWS_MAX_ATTEMPTS: '2',
      },
    });
    const answer = JSON.parse(
      stdout.split('\n').find((line) => line.startsWith('{"statusCode"')) ?? '{}',
    );
    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ result: 'error' });
  });

  // Each took its job (GitHub shows it in progress), so none is dispatched again.
  const listenerFaults: [string, number, string, Record<string, unknown>, string][] = [
    ['crashing mid-job', 5301, 'crash', { outcome: 'failed', exitCode: 1 }, 'deleted'],
    ['hanging past the deadline', 5302, 'hang', { outcome: 'deadline' }, 'deleted'],
    // Killed without a word to GitHub, it still shows busy: its registration is the job's,
    // until GitHub lets go of it and the scheduled sweep removes it.
    ['ignoring SIGTERM', 5303, 'ignore-sigterm', { outcome: 'deadline', exitCode: null }, 'busy'],
  ];
  for (const [name, jobId, kind, expected, registration] of listenerFaults) {
    it(`a listener ${name}: cleaned, settled by the broker (${registration})`, async () => {
      const runnerName = `lambda-${jobId}-1-1`;
      scenario(runnerName, kind);
      expect((await post(job(jobId))).status).toBe(202);
      expect(await waitFor(runnerName, () => outcome(runnerName), 120_000)).toMatchObject(expected);
      expect(await waitFor('the broker', () => settled(runnerName))).toMatchObject({
        registration,
        jobStatus: 'in_progress',
      });
      if (registration === 'deleted')
        expect([...fake.runners.values()].map((runner) => runner.name)).not.toContain(runnerName);
      expect(fake.jitConfigs.has(`lambda-${jobId}-1-2`)).toBe(false);
      await expectCleanWorkRoot();
    });
  }

  it('a listener leaving a daemon behind: the daemon is killed', async () => {
    scenario('lambda-5304-1-1', 'daemon');
    expect((await post(job(5304))).status).toBe(202);
    const result = await waitFor('lambda-5304-1-1', () => outcome('lambda-5304-1-1'));
    expect(result).toMatchObject({ outcome: 'completed' });
    expect(result.processesKilled as number).toBeGreaterThanOrEqual(1);
    await expectCleanWorkRoot();
  });
});

/** Runs the broker's schedule once, through the local stack, as EventBridge would. */
async function runSchedule() {
  const { answer } = await invokeBroker(
    lambdaUrl,
    { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
    true,
  );
  return (answer as { orphans: { deleted: string[]; calls: number; truncated: boolean } }).orphans;
}

describe("orphan clean-up: the broker's schedule against the fake GitHub", () => {
  it('deletes the stale offline runner of ours and nothing else, in a bounded number of calls', async () => {
    const hour = 3600_000;
    const at = (ms: number) => `lambda-runner-at-${Math.floor(ms / 1000)}`;
    const scope = 'repos/octocat/Hello-World';
    const stale = fake.addRunner({
      name: 'lambda-9001-1-1',
      scope,
      status: 'offline',
      busy: false,
      labels: ['lambda-runner', at(Date.now() - hour)],
      createdAt: 0,
    });
    const busy = fake.addRunner({
      name: 'lambda-9002-1-1',
      scope,
      status: 'online',
      busy: true,
      labels: ['lambda-runner', at(Date.now() - hour)],
      createdAt: 0,
    });
    const fresh = fake.addRunner({
      name: 'lambda-9003-1-1',
      scope,
      status: 'offline',
      busy: false,
      labels: ['lambda-runner', at(Date.now() - 60_000)],
      createdAt: 0,
    });
    const foreign = fake.addRunner({
      name: 'build-box-1',
      scope,
      status: 'offline',
      busy: false,
      labels: ['self-hosted', at(Date.now() - hour)],
      createdAt: 0,
    });
    const report = await runSchedule();

    expect(report.deleted).toEqual(['lambda-9001-1-1']);
    expect(fake.runners.has(stale.id)).toBe(false);
    for (const kept of [busy, fresh, foreign]) expect(fake.runners.has(kept.id)).toBe(true);
    // installations, token, repositories, runners of the one repository, one delete
    expect(report.calls).toBe(5);
    expect(report.truncated).toBe(false);
  });
});

describe('secrets', () => {
  it('no log line of any stage holds the webhook secret, the private key, a token or a JIT config', async () => {
    const logs = readdirSync(logDir)
      .map((file) => readFileSync(path.join(logDir, file), 'utf8'))
      .join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    const secrets = [
      TEST_SECRET,
      appKeys.privateKey.split('\n')[1]!,
      ...fake.tokens.keys(),
      ...fake.jitConfigs.values(),
    ];
    expect(secrets.length).toBeGreaterThan(5);
    expect(secrets.filter((secret) => logs.includes(secret))).toEqual([]);
  });
});
