// P4 (GitHub calls per job on a warm container) and P5 (what a never-used runner costs),
// through the real runner handler against the fake GitHub.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createRunnerHandler } from '../runner/handler';
import type { RunnerRequest } from '../src/runner-request';
import { FakeGitHub } from '../test/e2e/fake-github';
import { createFakeRunnerTree } from '../test/support/fake-runner-tree';
import { appKeys } from '../test/support/github-app';

const request = (jobId: number): RunnerRequest => ({
  installationId: 77,
  owner: 'acme',
  repo: 'app',
  jobId,
  runId: 1,
  runAttempt: 1,
  labels: ['self-hosted', 'lambda-runner'],
  profile: 'default',
  deliveryId: `bench-${jobId}`,
});

export async function benchRunnerGitHub(
  idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60),
) {
  const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-bench-gh-'));
  const fake = new FakeGitHub(appKeys.publicKey, '4242');
  try {
    await createFakeRunnerTree(path.join(base, 'runner'));
    const host = new URL(await fake.start()).host;
    const env = (extra: Record<string, string>) => ({
      PATH: process.env.PATH,
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      GHE_HOST: host,
      GHE_PROTOCOL: 'http',
      RUNNER_SOURCE_DIR: path.join(base, 'runner'),
      RUNNER_WORK_ROOT: path.join(base, 'work'),
      RUNNER_OWNS_CONTAINER: 'false',
      ...extra,
    });
    const context = { getRemainingTimeInMillis: () => 900_000 };
    const log = pino({ level: 'silent' });
    const warm = createRunnerHandler({ env: env({}), log, metrics: undefined });
    await warm(request(1), context); // cold: App credentials, token mint
    const before = fake.calls.length;
    const result = await warm(request(2), context);
    const warmCalls = fake.calls.slice(before);
    const idle = createRunnerHandler({
      env: env({ FAKE_RUNNER_SCENARIO: 'idle', RUNNER_IDLE_TIMEOUT_SECONDS: String(idleSeconds) }),
      log,
    });
    const started = process.hrtime.bigint();
    const idleResult = await idle(request(3), context);
    const idleSecondsMeasured = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      warmOutcome: result.outcome,
      warmCalls: warmCalls.map((call) => `${call.method} ${call.path}`),
      idleOutcome: idleResult.outcome,
      idleTimeoutSeconds: idleSeconds,
      idleRunnerSeconds: idleSecondsMeasured,
    };
  } finally {
    await fake.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void benchRunnerGitHub().then((result) => console.log(result));
}
