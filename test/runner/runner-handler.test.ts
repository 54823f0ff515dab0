import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createRunnerHandler, RunnerFailedError } from '../../runner/handler';
import { main } from '../../src/cli';
import { createWebhookHandler } from '../../src/webhook-handler';
import { TEST_SECRET, delivery, queuedJob } from '../support/webhook-events';
import type { RunnerResult } from '../../runner/run-job';
import type { RunnerRequest } from '../../src/runner-request';
import { captureLog } from '../support/capture-log';
import { captureEmf, metricNames } from '../support/emf';
import { PRISTINE_TREE, createFakeRunnerTree } from '../support/fake-runner-tree';
import { appKeys, encodeJitConfig, verifyAppJwt } from '../support/github-app';
import { isAlive, processesWith } from '../support/processes';

const API = 'https://api.github.com';
const secretsMock = mockClient(SecretsManagerClient);
const stsMock = mockClient(STSClient);
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-test-'));
const sourceDir = path.join(base, 'actions-runner');

const request: RunnerRequest = {
  installationId: 77,
  owner: 'acme',
  repo: 'app',
  jobId: 1001,
  runId: 501,
  runAttempt: 1,
  labels: ['self-hosted', 'lambda-runner', 'linux'],
  profile: 'default',
  deliveryId: 'delivery-1',
};

let workRoot: string;
let recordFile: string;

beforeAll(async () => {
  await createFakeRunnerTree(sourceDir);
  nock.disableNetConnect();
});
afterAll(() => {
  nock.enableNetConnect();
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  workRoot = mkdtempSync(path.join(base, 'work-'));
  recordFile = path.join(base, `record-${Math.random().toString(36).slice(2)}.jsonl`);
  nock.cleanAll();
  secretsMock.reset();
  stsMock.reset();
});
afterEach(() => {
  expect(processesWith(`FAKE_RUNNER_RECORD=${recordFile}`)).toEqual([]);
});

function setup(env: Record<string, string> = {}) {
  const captured = captureLog();
  const handler = createRunnerHandler({
    env: {
      PATH: process.env.PATH,
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      RUNNER_SOURCE_DIR: sourceDir,
      RUNNER_WORK_ROOT: workRoot,
      RUNNER_IDLE_TIMEOUT_SECONDS: '2',
      RUNNER_STOP_GRACE_SECONDS: '1',
      FAKE_RUNNER_RECORD: recordFile,
      ...env,
    },
    clients: {
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      sts: new STSClient({ region: 'us-east-1' }),
    },
    log: captured.log,
    deadlineMarginMs: 0,
    retryAfterBaseValue: 1,
  });
  return { handler, ...captured };
}

const lambdaContext = (remainingMs = 60_000) => ({ getRemainingTimeInMillis: () => remainingMs });

function records(): Record<string, unknown>[] {
  if (!existsSync(recordFile)) return [];
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function github() {
  const calls: string[] = [];
  const scope = nock(API)
    .post('/app/installations/77/access_tokens')
    .reply(function () {
      calls.push(`mint ${this.req.headers.authorization}`);
      return [
        201,
        {
          token: 'ghs_installation_token_abc',
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
        },
      ];
    });
  return { scope, calls };
}

function jobStatus(status: string) {
  return nock(API).get('/repos/acme/app/actions/jobs/1001').reply(200, { id: 1001, status });
}

function jit(runnerId = 42, name = 'lambda-1001-1') {
  const bodies: Record<string, unknown>[] = [];
  const scope = nock(API)
    .post('/repos/acme/app/actions/runners/generate-jitconfig', (body) => {
      bodies.push(body);
      return true;
    })
    .reply(201, {
      runner: { id: runnerId, name },
      encoded_jit_config: encodeJitConfig(runnerId, name),
    });
  return { scope, bodies };
}

function deletion(runnerId = 42) {
  return nock(API).delete(`/repos/acme/app/actions/runners/${runnerId}`).reply(204);
}

function expectNothingLeft() {
  expect(readdirSync(workRoot)).toEqual([]);
  expect(readdirSync(sourceDir).sort()).toEqual(PRISTINE_TREE);
}

describe('a job served with a JIT runner', () => {
  it('registers, runs the listener with the JIT config, and leaves nothing behind', async () => {
    const mint = github();
    jobStatus('queued');
    const config = jit();
    const { handler, lines } = setup();

    const result = await handler(request, lambdaContext());

    expect(result).toMatchObject({
      runnerName: 'lambda-1001-1',
      registration: 'jit',
      outcome: 'completed',
      exitCode: 0,
      jobResult: 'Succeeded',
      registrationDeleted: false,
    });
    expect(result.timings.toListeningMs).toBeGreaterThan(0);
    expect(result.timings.toJobMs).toBeGreaterThanOrEqual(result.timings.toListeningMs!);
    expect(result.timings.jobDurationMs).toBeGreaterThanOrEqual(0);
    expect(config.bodies).toEqual([
      {
        name: 'lambda-1001-1',
        runner_group_id: 1,
        labels: [
          'self-hosted',
          'lambda-runner',
          'linux',
          expect.stringMatching(/^lambda-runner-at-\d{10}$/),
        ],
        work_folder: '_work',
      },
    ]);
    const started = records().find((entry) => (entry.argv as string[] | undefined)?.[0] === 'run')!;
    expect(started.argv).toEqual(['run', '--jitconfig', encodeJitConfig(42, 'lambda-1001-1')]);
    const workspace = path.dirname(String(started.root));
    expect(path.dirname(workspace)).toBe(workRoot);
    expect(path.basename(workspace)).toMatch(/^lambda-runner-lambda-1001-1-[0-9a-f]{8}$/);
    expect(started.root).toBe(path.join(workspace, 'runner'));
    expect(started.home).toBe(path.join(workspace, 'home'));
    expect(mint.calls).toHaveLength(1);
    expect(nock.isDone()).toBe(true);
    expectNothingLeft();
    expect(lines.join('\n')).toContain('Running job: build');
  });

  it('signs the App JWT with RS256, backdates iat and keeps exp within 10 minutes', async () => {
    const mint = github();
    jobStatus('queued');
    jit();
    const { handler } = setup();
    await handler(request, lambdaContext());
    const jwt = verifyAppJwt(mint.calls[0]!.replace(/^mint /, ''));
    const now = Math.floor(Date.now() / 1000);
    expect(jwt.header.alg).toBe('RS256');
    expect(String(jwt.payload.iss)).toBe('4242');
    expect(jwt.payload.iat).toBeLessThan(now);
    expect(jwt.payload.exp - jwt.payload.iat).toBeLessThanOrEqual(600);
  });

  it('on a warm container mints no new token and makes two GitHub calls for the next job', async () => {
    const mint = github();
    jobStatus('queued');
    jit();
    const { handler } = setup();
    await handler(request, lambdaContext());
    const next = { ...request, jobId: 1002, deliveryId: 'delivery-2' };
    const calls: string[] = [];
    nock(API)
      .get('/repos/acme/app/actions/jobs/1002')
      .reply(200, function () {
        calls.push(`status ${this.req.headers.authorization}`);
        return { status: 'queued' };
      })
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, function () {
        calls.push('jit');
        return { runner: { id: 43 }, encoded_jit_config: encodeJitConfig(43, 'lambda-1002-1') };
      });

    const result = await handler(next, lambdaContext());

    expect(result.outcome).toBe('completed');
    expect(mint.calls).toHaveLength(1);
    expect(calls).toEqual(['status token ghs_installation_token_abc', 'jit']);
  });

  it('reads the App credentials from GITHUB_APP_SECRET_ARN once per container', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ appId: 4242, privateKey: appKeys.privateKey }) });
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({ APP_ID: '', PRIVATE_KEY: '', GITHUB_APP_SECRET_ARN: 'arn:app' });
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    jobStatus('queued');
    jit();
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fails clearly when the App secret is not the expected JSON', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: '{"appId":1}' });
    const { handler } = setup({ APP_ID: '', PRIVATE_KEY: '', GITHUB_APP_SECRET_ARN: 'arn:app' });
    await expect(handler(request, lambdaContext())).rejects.toThrow(
      /must hold "appId" and a PEM "privateKey"/,
    );
  });

  it('registers org runners in the configured group, looking the group id up once', async () => {
    github();
    const groupLookups = nock(API)
      .get('/orgs/acme/actions/runner-groups')
      .query(true)
      .once()
      .reply(200, {
        total_count: 2,
        runner_groups: [
          { id: 1, name: 'Default' },
          { id: 9, name: 'Lambda' },
        ],
      });
    const bodies: unknown[] = [];
    const org = () =>
      nock(API)
        .post('/orgs/acme/actions/runners/generate-jitconfig', (body) => bodies.push(body) > 0)
        .reply(201, {
          runner: { id: 42 },
          encoded_jit_config: encodeJitConfig(42, 'lambda-1001-1'),
        });
    jobStatus('queued');
    org();
    const { handler } = setup({ RUNNER_SCOPE: 'org', RUNNER_GROUP: 'lambda' });
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    jobStatus('queued');
    org();
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    expect(groupLookups.isDone()).toBe(true);
    expect(bodies).toEqual([
      expect.objectContaining({ runner_group_id: 9 }),
      expect.objectContaining({ runner_group_id: 9 }),
    ]);
  });

  it('never logs the private key, the installation token or the JIT config', async () => {
    github();
    jobStatus('queued');
    jit();
    const { handler, lines } = setup({ LOG_LEVEL: 'trace' });
    await handler(request, lambdaContext());
    const text = lines.join('\n');
    expect(text).not.toContain('ghs_installation_token_abc');
    expect(text).not.toContain(encodeJitConfig(42, 'lambda-1001-1'));
    expect(text).not.toContain(appKeys.privateKey.split('\n')[1]);
  });

  it('gives the job its own HOME, tool cache and TMPDIR, and withholds the App key and runtime API', async () => {
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      AWS_ACCESS_KEY_ID: 'AKIAJOB',
    });
    await handler(request, lambdaContext());
    const run = records().find((entry) => (entry.argv as string[] | undefined)?.[0] === 'run')!;
    const names = run.envNames as string[];
    expect(names).toEqual(
      expect.arrayContaining([
        'HOME',
        'RUNNER_TOOL_CACHE',
        'TMPDIR',
        'LAMBDA_RUNNER_JOB',
        'AWS_ACCESS_KEY_ID',
      ]),
    );
    expect(names).not.toContain('PRIVATE_KEY');
    expect(names).not.toContain('AWS_LAMBDA_RUNTIME_API');
  });

  it('gives the job the job role credentials, never the function role, when JOB_ROLE_ARN is set', async () => {
    stsMock.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAJOBROLE',
        SecretAccessKey: 'job-secret',
        SessionToken: 'job-session',
        Expiration: new Date(),
      },
    });
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({
      JOB_ROLE_ARN: 'arn:aws:iam::1:role/job',
      AWS_ACCESS_KEY_ID: 'AKIAFUNCTION',
      FAKE_RUNNER_ECHO_ENV: 'AWS_ACCESS_KEY_ID',
    });
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::1:role/job',
      RoleSessionName: 'lambda-1001-1',
      DurationSeconds: 900,
    });
    const run = records().find((entry) => (entry.argv as string[] | undefined)?.[0] === 'run')!;
    expect(run.echo).toBe('ASIAJOBROLE');
  });

  it('runs the same way with the copy-everything layout', async () => {
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({ RUNNER_LAYOUT: 'copy' });
    expect(await handler(request, lambdaContext())).toMatchObject({
      outcome: 'completed',
      jobResult: 'Succeeded',
    });
    expectNothingLeft();
  });
});

describe('metrics (CloudWatch EMF)', () => {
  it('emits one line per runner: outcome, timings since the job was created, exit code, rate limit', async () => {
    github();
    nock(API)
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(200, { status: 'queued' }, { 'x-ratelimit-remaining': '4321' });
    jit();
    const { handler } = setup();
    const created = new Date(Date.now() - 5000).toISOString();
    const emf = captureEmf();
    try {
      await handler({ ...request, jobCreatedAt: created }, lambdaContext());
    } finally {
      emf.restore();
    }
    expect(emf.lines).toHaveLength(1);
    const [line] = emf.lines as [Record<string, number | string>];
    expect(line).toMatchObject({
      outcome: 'completed',
      service: 'runner',
      Runs: 1,
      ListenerExitCode: 0,
      GitHubRateLimitRemaining: 4321,
      jobId: '1001',
      runnerName: 'lambda-1001-1',
    });
    expect(line.TimeToListenerMs).toBeGreaterThanOrEqual(5000);
    expect(line.TimeToJobMs).toBeGreaterThanOrEqual(line.TimeToListenerMs as number);
    expect(line.JobDurationMs).toBeGreaterThanOrEqual(0);
    expect(metricNames(line)).toEqual(
      expect.arrayContaining([
        'Runs',
        'TimeToListenerMs',
        'TimeToJobMs',
        'JobDurationMs',
        'ListenerExitCode',
        'GitHubRateLimitRemaining',
      ]),
    );
  });
});

describe('lambda-runner explain --logs', () => {
  it('tells the story of one job across the webhook and the runner from their log lines', async () => {
    const lambdaMock = mockClient(LambdaClient);
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const webhookLog = captureLog();
    const webhook = createWebhookHandler({
      env: {
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_FUNCTION_NAME: 'runner',
        RUNNER_DISPATCH: 'lambda',
      },
      clients: {
        lambda: new LambdaClient({ region: 'us-east-1' }),
        secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      },
      log: webhookLog.log,
    });
    const payload = queuedJob({ fullName: 'acme/app' }) as {
      workflow_job: { id: number };
      installation: { id: number };
    };
    payload.workflow_job.id = 1001;
    payload.installation.id = 77;
    expect((await webhook(delivery(payload))).statusCode).toBe(202);
    lambdaMock.restore();
    github();
    jobStatus('queued');
    jit();
    deletion();
    const { handler, lines } = setup({
      FAKE_RUNNER_SCENARIO: 'idle',
      RUNNER_IDLE_TIMEOUT_SECONDS: '1',
    });
    await handler(request, lambdaContext());
    const file = path.join(base, 'exported.log');
    writeFileSync(
      file,
      [...webhookLog.lines, ...lines].map((line) => `2026-11-28T00:00:00Z\t${line}`).join('\n'),
    );

    const story: string[] = [];
    expect(main(['explain', '--logs', file, '--job', '1001'], (line) => story.push(line), {})).toBe(
      0,
    );

    expect(story.map((line) => line.replace(/^\S+\s+/, ''))).toEqual([
      'webhook: dispatched (profile "default" offers every label)',
      'runner lambda-1001-1 registered (id 42)',
      'listener: √ Connected to GitHub',
      "listener: Current runner version: '2.330.0'",
      expect.stringMatching(/^listener: .*Listening for Jobs$/),
      'listener: Exiting...',
      'registration deleted',
      'runner ended: idle',
    ]);
  });
});

describe('a job that does not need this runner', () => {
  it('stops when the job is no longer queued, before registering', async () => {
    github();
    jobStatus('in_progress');
    const { handler } = setup();
    const result = await handler(request, lambdaContext());
    expect(result).toMatchObject({ outcome: 'not-queued', error: 'job is in_progress' });
    expect(nock.isDone()).toBe(true);
    expect(records()).toEqual([]);
    expectNothingLeft();
  });

  it('stops cleanly on 409: another invocation already serves the job', async () => {
    github();
    jobStatus('queued');
    nock(API)
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(409, { message: 'Already exists' });
    const { handler } = setup();
    const result = await handler(request, lambdaContext());
    expect(result).toMatchObject({ outcome: 'duplicate', registrationDeleted: false });
    expect(nock.isDone()).toBe(true);
    expect(records()).toEqual([]);
    expectNothingLeft();
  });

  it('goes on when the job status cannot be read (fail open)', async () => {
    github();
    nock(API).get('/repos/acme/app/actions/jobs/1001').reply(404, { message: 'Not Found' });
    jit();
    const { handler, records: logged } = setup();
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    expect(logged()).toContainEqual(
      expect.objectContaining({ msg: 'job status unknown; starting a runner anyway' }),
    );
  });

  it('stops an idle runner after the idle timeout and deletes its registration', async () => {
    github();
    jobStatus('queued');
    jit();
    const deleted = deletion();
    const { handler } = setup({ FAKE_RUNNER_SCENARIO: 'idle', RUNNER_IDLE_TIMEOUT_SECONDS: '1' });
    const result = await handler(request, lambdaContext());
    expect(result).toMatchObject({ outcome: 'idle', exitCode: 0, registrationDeleted: true });
    expect(result.timings.toJobMs).toBeUndefined();
    expect(deleted.isDone()).toBe(true);
    expectNothingLeft();
  });
});

describe('runners that end badly are cleaned up', () => {
  async function failing(env: Record<string, string>, remainingMs = 60_000) {
    github();
    jobStatus('queued');
    jit();
    const deleted = deletion();
    const { handler, records: logged } = setup(env);
    let result: RunnerResult | undefined;
    try {
      result = await handler(request, lambdaContext(remainingMs));
    } catch (error) {
      expect(error).toBeInstanceOf(RunnerFailedError);
      result = (error as RunnerFailedError).result;
    }
    expect(deleted.isDone()).toBe(true);
    expect(result.registrationDeleted).toBe(true);
    expectNothingLeft();
    return { result, logged };
  }

  it('a job that hangs past the deadline: SIGTERM, logged as the Lambda time limit', async () => {
    const { result, logged } = await failing({ FAKE_RUNNER_SCENARIO: 'hang' }, 1500);
    expect(result).toMatchObject({ outcome: 'deadline', exitCode: 0 });
    expect(records()).toContainEqual(expect.objectContaining({ signal: 'SIGTERM' }));
    expect(logged()).toContainEqual(
      expect.objectContaining({ msg: 'the job hit the Lambda time limit and was stopped' }),
    );
  });

  it('a listener that ignores SIGTERM is killed after the grace period', async () => {
    const { result } = await failing({ FAKE_RUNNER_SCENARIO: 'ignore-sigterm' }, 1500);
    expect(result).toMatchObject({ outcome: 'deadline', exitCode: null });
  });

  it('a listener that crashes mid-job', async () => {
    const { result } = await failing({ FAKE_RUNNER_SCENARIO: 'crash' });
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 1 });
  });

  it.each([1, 2, 3, 4, 5, 6, 7])(
    'a listener that exits with code %i before a job',
    async (code) => {
      const { result } = await failing({ FAKE_RUNNER_SCENARIO: `exit:${code}` });
      expect(result).toMatchObject({ outcome: 'failed', exitCode: code });
    },
  );

  it('no time left before the deadline: no registration at all', async () => {
    const { handler } = setup();
    await expect(handler(request, lambdaContext(0))).resolves.toMatchObject({
      outcome: 'deadline',
    });
    expect(records()).toEqual([]);
  });
});

describe('what a job leaves behind', () => {
  it('a daemon that double-forked out of the process group is killed', async () => {
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({ FAKE_RUNNER_SCENARIO: 'daemon' });
    const result = await handler(request, lambdaContext());
    expect(result).toMatchObject({ outcome: 'completed', jobResult: 'Succeeded' });
    const daemon = records().find((entry) => entry.daemon)?.daemon as number;
    expect(daemon).toBeGreaterThan(0);
    expect(result.processesKilled).toBeGreaterThanOrEqual(1);
    expect(isAlive(daemon)).toBe(false);
    expectNothingLeft();
  });

  it('a failed job is still a completed runner, with the job result reported', async () => {
    github();
    jobStatus('queued');
    jit();
    const { handler } = setup({ FAKE_RUNNER_SCENARIO: 'fail' });
    expect(await handler(request, lambdaContext())).toMatchObject({
      outcome: 'completed',
      jobResult: 'Failed',
      exitCode: 0,
    });
    expectNothingLeft();
  });
});

describe('GitHub faults', () => {
  it('retries 5xx and 429 on the token mint, status and JIT calls, then succeeds', async () => {
    nock(API)
      .post('/app/installations/77/access_tokens')
      .reply(502)
      .post('/app/installations/77/access_tokens')
      .reply(429, {}, { 'retry-after': '0' });
    github();
    nock(API).get('/repos/acme/app/actions/jobs/1001').reply(503);
    jobStatus('queued');
    nock(API).post('/repos/acme/app/actions/runners/generate-jitconfig').reply(500);
    jit();
    const { handler } = setup();
    expect((await handler(request, lambdaContext())).outcome).toBe('completed');
    expect(nock.isDone()).toBe(true);
  });

  it('a token mint that fails for good: a clean failure, nothing registered', async () => {
    nock(API)
      .post('/app/installations/77/access_tokens')
      .times(10)
      .reply(401, { message: 'Bad credentials' });
    const { handler } = setup();
    await expect(handler(request, lambdaContext())).rejects.toThrow(RunnerFailedError);
    expect(records()).toEqual([]);
    expectNothingLeft();
  });

  it('a JIT call that fails for good deletes nothing it did not create and leaves no files', async () => {
    github();
    jobStatus('queued');
    nock(API).post('/repos/acme/app/actions/runners/generate-jitconfig').times(4).reply(500);
    const { handler } = setup();
    await expect(handler(request, lambdaContext())).rejects.toThrow(
      /generate-jitconfig failed \(500\)/,
    );
    expect(nock.isDone()).toBe(true);
    expectNothingLeft();
  });
});

describe('token registration (RUNNER_REGISTRATION=token)', () => {
  it('configures with config.sh in the work root, runs the listener, and leaves nothing behind', async () => {
    github();
    jobStatus('queued');
    nock(API)
      .post('/repos/acme/app/actions/runners/registration-token')
      .reply(201, { token: 'AREGTOKEN123', expires_at: '2030-01-01T00:00:00Z' });
    const { handler, lines } = setup({ RUNNER_REGISTRATION: 'token' });

    const result = await handler(request, lambdaContext());

    expect(result).toMatchObject({
      registration: 'token',
      outcome: 'completed',
      jobResult: 'Succeeded',
    });
    const [configure, run] = records().filter((entry) => entry.argv);
    expect(configure!.argv).toEqual([
      'configure',
      '--url',
      'https://github.com/acme/app',
      '--token',
      'AREGTOKEN123',
      '--name',
      'lambda-1001-1',
      '--labels',
      expect.stringMatching(/^self-hosted,lambda-runner,linux,lambda-runner-at-\d{10}$/),
      '--work',
      '_work',
      '--ephemeral',
      '--disableupdate',
      '--unattended',
    ]);
    expect(String(configure!.root)).toMatch(
      new RegExp(`^${workRoot}/lambda-runner-lambda-1001-1-[0-9a-f]{8}/runner$`),
    );
    expect(run!.argv).toEqual(['run']);
    expect(lines.join('\n')).not.toContain('AREGTOKEN123');
    expectNothingLeft();
  });

  it('deletes the registration config.sh made when the runner ends idle', async () => {
    github();
    jobStatus('queued');
    nock(API)
      .post('/repos/acme/app/actions/runners/registration-token')
      .reply(201, { token: 'AREGTOKEN123' });
    const deleted = nock(API).delete('/repos/acme/app/actions/runners/42').reply(204);
    const { handler } = setup({
      RUNNER_REGISTRATION: 'token',
      FAKE_RUNNER_SCENARIO: 'idle',
      RUNNER_IDLE_TIMEOUT_SECONDS: '1',
    });
    expect(await handler(request, lambdaContext())).toMatchObject({
      outcome: 'idle',
      registrationDeleted: true,
    });
    expect(deleted.isDone()).toBe(true);
    expectNothingLeft();
  });
});

describe('bad requests', () => {
  it('refuses an event that is not a runner request, naming the bad fields', async () => {
    const { handler } = setup();
    await expect(handler({ owner: 'acme', jobId: -1 }, lambdaContext())).rejects.toThrow(
      /bad fields: installationId, jobId, runId, runAttempt, repo, profile, deliveryId, labels/,
    );
  });
});
