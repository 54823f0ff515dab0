import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRunnerHandler, RunnerFailedError } from '../../runner/handler';
import type { RunnerResult } from '../../runner/run-job';
import type { RunnerPayload } from '../../runner/runner-payload';
import { captureLog } from '../support/capture-log';
import { captureEmf, metricNames } from '../support/emf';
import { PRISTINE_TREE, createFakeRunnerTree } from '../support/fake-runner-tree';
import { encodeJitConfig } from '../support/github-app';
import { isAlive, processesWith } from '../support/processes';

const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-test-'));
const sourceDir = path.join(base, 'actions-runner');

const payload: RunnerPayload = {
  kind: 'runner',
  dispatch: 1,
  installationId: 77,
  owner: 'acme',
  repo: 'app',
  jobId: 1001,
  runId: 501,
  runAttempt: 1,
  labels: ['self-hosted', 'lambda-runner', 'linux'],
  profile: 'default',
  deliveryId: 'delivery-1',
  runnerName: 'lambda-1001-1-1',
  runnerId: 42,
  scope: 'repo',
  credential: { jitConfig: encodeJitConfig(42, 'lambda-1001-1-1') },
};

let workRoot: string;
let recordFile: string;

beforeAll(async () => {
  await createFakeRunnerTree(sourceDir);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(() => {
  workRoot = mkdtempSync(path.join(base, 'work-'));
  recordFile = path.join(base, `record-${Math.random().toString(36).slice(2)}.jsonl`);
});
afterEach(() => {
  expect(processesWith(`FAKE_RUNNER_RECORD=${recordFile}`)).toEqual([]);
});

function setup(env: Record<string, string> = {}) {
  const captured = captureLog();
  const exits: number[] = [];
  const handler = createRunnerHandler({
    env: {
      PATH: process.env.PATH,
      RUNNER_SOURCE_DIR: sourceDir,
      RUNNER_WORK_ROOT: workRoot,
      RUNNER_IDLE_TIMEOUT_SECONDS: '2',
      RUNNER_STOP_GRACE_SECONDS: '1',
      RUNNER_DEADLINE_MARGIN_SECONDS: '6',
      // This test process is no Lambda sandbox: only the job's own processes and files go.
      RUNNER_OWNS_CONTAINER: 'false',
      RUNNER_MIN_FREE_MB: '1',
      FAKE_RUNNER_RECORD: recordFile,
      ...env,
    },
    log: captured.log,
    exit: (code) => exits.push(code),
  });
  return { handler, exits, ...captured };
}

/** Remaining time such that the runner's own deadline is `ms` away (the margin is 6 s). */
const lambdaContext = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms + 6000 });

function records(): Record<string, unknown>[] {
  if (!existsSync(recordFile)) return [];
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

const started = () =>
  records().find((entry) => (entry.argv as string[] | undefined)?.[0] === 'run')!;

function expectNothingLeft() {
  expect(readdirSync(workRoot)).toEqual([]);
  expect(readdirSync(sourceDir).sort()).toEqual(PRISTINE_TREE);
}

describe('a job served with the JIT config the broker sent', () => {
  it('runs the listener with it, reports the job, and leaves nothing behind', async () => {
    const { handler, lines } = setup();
    const result = await handler(payload, lambdaContext());
    expect(result).toMatchObject({
      runnerName: 'lambda-1001-1-1',
      registration: 'jit',
      outcome: 'completed',
      exitCode: 0,
      jobResult: 'Succeeded',
    });
    expect(result.timings.toJobMs).toBeGreaterThanOrEqual(result.timings.toListeningMs!);
    expect(started().argv).toEqual(['run', '--jitconfig', encodeJitConfig(42, 'lambda-1001-1-1')]);
    const workspace = path.dirname(String(started().root));
    expect(path.dirname(workspace)).toBe(workRoot);
    expect(started().home).toBe(path.join(workspace, 'home'));
    expectNothingLeft();
    expect(lines.join('\n')).toContain('Running job: build');
    // The one-use credential is never logged.
    expect(lines.join('\n')).not.toContain(encodeJitConfig(42, 'lambda-1001-1-1'));
  });

  it('gives the job its own HOME, tool cache and TMPDIR, and withholds the runtime API', async () => {
    const { handler } = setup({
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      AWS_ACCESS_KEY_ID: 'ASIAJOBROLE',
      PRIVATE_KEY: 'never-for-a-job',
    });
    await handler(payload, lambdaContext());
    const names = started().envNames as string[];
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

  it('runs the same way with the copy-everything layout', async () => {
    const { handler } = setup({ RUNNER_LAYOUT: 'copy' });
    expect(await handler(payload, lambdaContext())).toMatchObject({
      outcome: 'completed',
      jobResult: 'Succeeded',
    });
    expectNothingLeft();
  });

  it("makes no network call at all: registrations are the broker's business", async () => {
    const { handler } = setup({
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
    });
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    try {
      expect((await handler(payload, lambdaContext())).outcome).toBe('completed');
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });
});

describe('token mode', () => {
  it('registers with config.sh, runs the listener, and keeps the token out of the job and the logs', async () => {
    const { handler, lines } = setup();
    const result = await handler(
      {
        ...payload,
        runnerId: undefined,
        credential: { token: 'AREGTOKEN123', url: 'https://github.com/acme/app' },
      },
      lambdaContext(),
    );
    expect(result).toMatchObject({ registration: 'token', outcome: 'completed' });
    const configured = records().find((entry) => (entry.argv as string[])?.[0] === 'configure')!;
    expect(configured.argv).toEqual(
      expect.arrayContaining(['--ephemeral', '--disableupdate', '--name', 'lambda-1001-1-1']),
    );
    expect(started().argv).toEqual(['run']);
    expect(JSON.stringify(started())).not.toContain('AREGTOKEN123');
    expect(lines.join('\n')).not.toContain('AREGTOKEN123');
    expectNothingLeft();
  });
});

describe('metrics (CloudWatch EMF)', () => {
  it('emits one line per runner: outcome, timings since the job was created, exit code', async () => {
    const { handler } = setup();
    const created = new Date(Date.now() - 5000).toISOString();
    const emf = captureEmf();
    try {
      await handler({ ...payload, jobCreatedAt: created }, lambdaContext());
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
      jobId: '1001',
    });
    expect(line.TimeToListenerMs).toBeGreaterThanOrEqual(5000);
    expect(metricNames(line)).toEqual(
      expect.arrayContaining(['Runs', 'TimeToListenerMs', 'TimeToJobMs', 'JobDurationMs']),
    );
  });
});

describe('one job per environment', () => {
  it("in a published version's environment, serves one job and refuses a second", async () => {
    const { handler, lines } = setup({ AWS_LAMBDA_FUNCTION_VERSION: '7' });
    expect(await handler(payload, lambdaContext())).toMatchObject({ outcome: 'completed' });
    const runsBefore = records().filter((entry) => (entry.argv as string[])?.[0] === 'run');
    const second = { ...payload, runnerName: 'lambda-2002-1-1' };
    await expect(handler(second, lambdaContext())).rejects.toThrow(
      /runner lambda-2002-1-1 refused: version 7 already served a job in this environment/,
    );
    // No listener ran for it.
    expect(records().filter((entry) => (entry.argv as string[])?.[0] === 'run')).toEqual(
      runsBefore,
    );
    expect(lines.join('\n')).toContain('a second job in a one-job environment');
  });

  it('in $LATEST (isolation shared), serves one job after another', async () => {
    const { handler } = setup({ AWS_LAMBDA_FUNCTION_VERSION: '$LATEST' });
    expect(await handler(payload, lambdaContext())).toMatchObject({ outcome: 'completed' });
    expect(await handler(payload, lambdaContext())).toMatchObject({ outcome: 'completed' });
  });
});

describe('runners that end badly are stopped and cleaned', () => {
  const run = async (scenario: string, env: Record<string, string> = {}, ms?: number) => {
    const { handler } = setup({
      FAKE_RUNNER_SCENARIO: scenario,
      RUNNER_FAIL_INVOCATION: 'false',
      ...env,
    });
    const result: RunnerResult = await handler(payload, lambdaContext(ms));
    expectNothingLeft();
    return result;
  };

  it('an idle runner is stopped after the idle timeout', async () => {
    expect(await run('idle')).toMatchObject({ outcome: 'idle' });
  });

  it('a job that hangs past the deadline: SIGTERM, logged as the Lambda time limit', async () => {
    expect(await run('hang', {}, 1500)).toMatchObject({ outcome: 'deadline' });
  });

  it('a listener that ignores SIGTERM is killed after the grace period', async () => {
    const result = await run('ignore-sigterm', {}, 1000);
    expect(result).toMatchObject({ outcome: 'deadline' });
    expect(records().some((entry) => entry.signal === 'SIGTERM')).toBe(true);
  });

  it('a listener that crashes mid-job fails the invocation, after its clean-up', async () => {
    const { handler } = setup({ FAKE_RUNNER_SCENARIO: 'crash' });
    await expect(handler(payload, lambdaContext())).rejects.toThrow(RunnerFailedError);
    expectNothingLeft();
  });

  it('no time left before the deadline: no listener at all', async () => {
    expect(await run('succeed', {}, -1)).toMatchObject({ outcome: 'deadline' });
    expect(records()).toEqual([]);
  });

  it('a failed job is a completed runner with the job result reported', async () => {
    expect(await run('fail')).toMatchObject({ outcome: 'completed', jobResult: 'Failed' });
  });

  it('a daemon that double-forked out of the process group is killed', async () => {
    const result = await run('daemon');
    const daemon = records().find((entry) => entry.daemon)?.daemon as number;
    expect(daemon).toBeGreaterThan(0);
    expect(isAlive(daemon)).toBe(false);
    expect(result.processesKilled).toBeGreaterThanOrEqual(1);
  });

  it('a job that prints a forged "Succeeded" after failing is reported as failed', async () => {
    expect(await run('forge-success')).toMatchObject({ outcome: 'completed', jobResult: 'Failed' });
  });
});

describe('configuration', () => {
  it('refuses a stop grace and clean-up that do not fit in the deadline margin, by name', async () => {
    const { handler } = setup({
      RUNNER_DEADLINE_MARGIN_SECONDS: '3',
      RUNNER_STOP_GRACE_SECONDS: '10',
    });
    await expect(handler(payload, lambdaContext())).rejects.toThrow(
      /RUNNER_STOP_GRACE_SECONDS \(10\) plus 5 s of clean-up must fit in RUNNER_DEADLINE_MARGIN_SECONDS \(3\)/,
    );
    expect(records()).toEqual([]);
  });

  it('refuses an event that is not a runner payload, naming the bad fields', async () => {
    const { handler } = setup();
    await expect(handler({ kind: 'dispatch', jobId: 'x' }, lambdaContext())).rejects.toThrow(
      /invalid runner payload, bad fields: kind, runnerName, dispatch, jobId/,
    );
    expect(records()).toEqual([]);
  });
});

describe('a sandbox that cannot be made clean', () => {
  it('is refused with sandbox-tainted before the job, and the process is told to exit', async () => {
    const { handler, exits } = setup({
      RUNNER_OWNS_CONTAINER: 'false',
      RUNNER_MIN_FREE_MB: String(1024 * 1024 * 64),
    });
    const result = await handler(payload, lambdaContext());
    expect(result.outcome).toBe('sandbox-tainted');
    expect(result.error).toMatch(/MB free in the work root/);
    expect(records()).toEqual([]);
    // Outside Lambda the process is not ours to end; in Lambda (ownsContainer) it exits.
    expect(exits).toEqual([]);
  });
});
