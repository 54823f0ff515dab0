import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { main } from '../../src/cli';
import { createLocalDispatch } from '../../src/local-mode';
import { createWebhookHandler } from '../../src/webhook-handler';
import { captureLog } from '../support/capture-log';
import { createFakeRunnerTree } from '../support/fake-runner-tree';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { TEST_SECRET, delivery, queuedJob } from '../support/webhook-events';

const API = 'https://api.github.com';
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-local-'));
const sourceDir = path.join(base, 'actions-runner');
const workRoot = path.join(base, 'work');

beforeAll(async () => {
  // A CodeBuild profile's builds run the built build runner (dist/runner/codebuild.js).
  if (!existsSync(path.join(__dirname, '../../dist/runner/codebuild.js')))
    execFileSync('node', ['scripts/build.mjs'], { cwd: path.join(__dirname, '../..') });
  await createFakeRunnerTree(sourceDir);
  nock.disableNetConnect();
});
afterAll(() => {
  nock.enableNetConnect();
  rmSync(base, { recursive: true, force: true });
});

async function until(probe: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Local mode's one environment: the App settings, the fake runner tree, an idle listener. */
const localEnv = (extra: Record<string, string> = {}): Record<string, string | undefined> => ({
  PATH: process.env.PATH,
  APP_ID: '4242',
  PRIVATE_KEY: appKeys.privateKey,
  WEBHOOK_SECRET: TEST_SECRET,
  RUNNER_SOURCE_DIR: sourceDir,
  RUNNER_WORK_ROOT: workRoot,
  RUNNER_IDLE_TIMEOUT_SECONDS: '1',
  RUNNER_STOP_GRACE_SECONDS: '1',
  RUNNER_DEADLINE_MARGIN_SECONDS: '6',
  RUNNER_MIN_FREE_MB: '1',
  FAKE_RUNNER_SCENARIO: 'idle',
  ...extra,
});

/**
 * GitHub for one job through local mode: queued at dispatch, in progress when its runner is
 * settled; the runner registered, read idle, and deleted.
 */
function gitHubServes(jobId: number, runnerId: number) {
  const name = `lambda-${jobId}-1-1`;
  const statuses = ['queued', 'in_progress'];
  nock(API)
    .post('/app/installations/77/access_tokens')
    .reply(201, { token: 'ghs_local', expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get(`/repos/acme/app/actions/jobs/${jobId}`)
    .times(2)
    .reply(200, () => ({ id: jobId, status: statuses.shift() }))
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, { runner: { id: runnerId }, encoded_jit_config: encodeJitConfig(runnerId, name) })
    .get(`/repos/acme/app/actions/runners/${runnerId}`)
    .reply(200, { id: runnerId, name, busy: false, status: 'online' })
    .delete(`/repos/acme/app/actions/runners/${runnerId}`)
    .reply(204);
}

/** A queued job of acme/app with these labels, by id. */
function queued(jobId: number, labels?: string[]) {
  const payload = queuedJob({ fullName: 'acme/app', ...(labels ? { labels } : {}) }) as {
    workflow_job: { id: number; run_attempt: number };
    installation: { id: number };
  };
  Object.assign(payload.workflow_job, { id: jobId, run_attempt: 1 });
  payload.installation.id = 77;
  return payload;
}

describe('local mode (npm start): webhook, broker and runner in one process', () => {
  it('serves a job with only the App settings, settles its runner, and explain tells the whole story', async () => {
    const env = localEnv();
    const captured = captureLog();
    gitHubServes(1001, 42);
    const webhook = createWebhookHandler({
      env: { WEBHOOK_SECRET: TEST_SECRET, RUNNER_DISPATCH: 'local' },
      dispatch: createLocalDispatch({ log: captured.log, env }),
      log: captured.log,
    });
    const payload = queued(1001);

    expect((await webhook(delivery(payload))).statusCode).toBe(202);
    await until(() => nock.isDone());
    await until(() => captured.lines.some((line) => line.includes('"msg":"runner settled"')));
    expect(readdirSync(workRoot)).toEqual([]);

    const file = path.join(base, 'exported.log');
    writeFileSync(file, captured.lines.map((line) => `2026-11-29T00:00:00Z\t${line}`).join('\n'));
    const story: string[] = [];
    expect(main(['explain', '--logs', file, '--job', '1001'], (line) => story.push(line), {})).toBe(
      0,
    );
    // Local mode writes every function's lines to one log: each step is marked as of unknown source.
    expect(
      story.every((line) =>
        line.endsWith('[source unknown: anything a runner printed could say this]'),
      ),
    ).toBe(true);
    expect(
      story.map((line) => line.replace(/^\S+\s+/, '').replace(/ {2}\[source unknown: .*\]$/, '')),
    ).toEqual([
      'webhook: dispatched (profile "default" offers every label)',
      'broker: runner lambda-1001-1-1 registered (id 42) and started',
      'listener: √ Connected to GitHub',
      "listener: Current runner version: '2.330.0'",
      expect.stringMatching(/^listener: .*Listening for Jobs$/),
      'listener: Exiting...',
      "runner says it ended: idle (the job's own word)",
      'broker: registration deleted',
      'broker: runner lambda-1001-1-1 ended (Success); job in_progress',
    ]);
  });

  it('routes a codebuild profile to a build on this host, settled from its state change event', async () => {
    const env = localEnv({
      RUNNER_PROFILES: JSON.stringify([
        { name: 'default', labels: ['self-hosted', 'lambda-runner'] },
        {
          name: 'docker',
          labels: ['self-hosted', 'lambda-runner', 'docker'],
          executor: 'codebuild',
          projectName: 'lambda-runner-local-build-docker',
          timeoutMinutes: 30,
        },
      ]),
    });
    const captured = captureLog();
    gitHubServes(1002, 43);
    const webhook = createWebhookHandler({
      env: {
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_DISPATCH: 'local',
        RUNNER_PROFILES: env.RUNNER_PROFILES,
      },
      dispatch: createLocalDispatch({ log: captured.log, env }),
      log: captured.log,
    });
    const payload = queued(1002, ['self-hosted', 'lambda-runner', 'docker']);

    expect((await webhook(delivery(payload))).statusCode).toBe(202);
    await until(() => nock.isDone(), 30_000);
    await until(() => captured.lines.some((line) => line.includes('"msg":"runner settled"')));
    const settled = JSON.parse(
      captured.lines.find((line) => line.includes('"msg":"runner settled"'))!,
    );
    expect(settled).toMatchObject({ condition: 'build SUCCEEDED', registration: 'deleted' });
    expect(captured.lines.some((line) => line.includes('"msg":"local build started"'))).toBe(true);
    expect(readdirSync(workRoot)).toEqual([]);
  }, 60_000);
});
