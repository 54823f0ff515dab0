import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalBuilds } from '../../src/local-builds';
import type { BuildStateChange } from '../../src/broker/settle-runner';
import { captureLog } from '../support/capture-log';

// A build entry that does what its variable says: exit with a code, or never end.
const dir = mkdtempSync(path.join(tmpdir(), 'lambda-runner-builds-'));
const entry = path.join(dir, 'entry.js');
writeFileSync(
  entry,
  `const what = process.env.WHAT;
   if (what === 'hang') setInterval(() => undefined, 1000);
   else process.exit(Number(what));`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function builds() {
  const events: BuildStateChange[] = [];
  const local = createLocalBuilds({
    entry,
    env: { PATH: process.env.PATH },
    onEnd: (event) => events.push(event),
    log: captureLog().log,
  });
  const start = (what: string, token: string, timeoutSeconds = 3600) =>
    local.start({
      projectName: 'lambda-runner-local-build-docker',
      idempotencyToken: token,
      environmentVariablesOverride: [
        { name: 'WHAT', value: what, type: 'PLAINTEXT' },
        { name: 'LAMBDA_RUNNER_TIMEOUT_SECONDS', value: String(timeoutSeconds), type: 'PLAINTEXT' },
      ],
    });
  return { local, events, start };
}

describe('local CodeBuild (local mode and the local stack)', () => {
  it('ends each build as CodeBuild does, and sends its state change with its variables', async () => {
    const { events, start } = builds();
    const succeeded = start('0', 'a');
    const failed = start('3', 'b');
    const timedOut = start('hang', 'c', 1);
    const stopped = start('hang', 'd');
    stopped.stop();
    await expect(
      Promise.all([succeeded.ended, failed.ended, timedOut.ended, stopped.ended]),
    ).resolves.toEqual(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED']);
    const byBuild = new Map(events.map((event) => [event.detail?.['build-id'], event]));
    const event = byBuild.get(`arn:aws:codebuild:us-east-1:000000000000:build/${failed.id}`)!;
    expect(event).toMatchObject({
      source: 'aws.codebuild',
      'detail-type': 'CodeBuild Build State Change',
      detail: { 'build-status': 'FAILED', 'project-name': 'lambda-runner-local-build-docker' },
    });
    expect(
      event.detail?.['additional-information']?.environment?.['environment-variables'],
    ).toContainEqual({
      name: 'WHAT',
      value: '3',
      type: 'PLAINTEXT',
    });
    expect(events).toHaveLength(4);
  });

  it('starts one build per idempotency token, as StartBuild does', async () => {
    const { local, start } = builds();
    const first = start('0', 'same');
    const again = await local.send({ input: { projectName: 'p', idempotencyToken: 'same' } });
    expect(again.build.id).toBe(first.id);
    expect(local.builds.size).toBe(1);
    await first.ended;
  });
});
