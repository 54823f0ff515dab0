import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const X64 = 'a'.repeat(64);
const ARM64 = 'b'.repeat(64);
const BASE = `sha256:${'c'.repeat(64)}`;
const PUSHED = `sha256:${'d'.repeat(64)}`;
const REPO = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/lambda-runner';

/**
 * A `docker` (and `aws`) on PATH that records each call's arguments and answers as Docker does:
 * repo digests after a pull or push, no buildx when told so.
 */
const FAKE_DOCKER = `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_RECORD, JSON.stringify(args) + '\\n');
if (args[0] === 'buildx' && process.env.FAKE_NO_BUILDX) {
  process.stderr.write("docker: 'buildx' is not a docker command.\\n");
  process.exit(1);
}
if (args[0] === 'image' && args[1] === 'inspect') {
  const ref = args[args.length - 1];
  const digests = ref.startsWith('public.ecr.aws/')
    ? ['public.ecr.aws/lambda/nodejs@${BASE}']
    : [ref.split(':').slice(0, -1).join(':') + '@${PUSHED}'];
  process.stdout.write(JSON.stringify(digests) + '\\n');
}
`;

let work: string;
let record: string;
let stages: string;
let bin: string;

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'lambda-runner-docker-'));
  record = path.join(work, 'calls.jsonl');
  stages = path.join(work, 'stages');
  bin = path.join(work, 'bin');
  mkdirSync(stages);
  mkdirSync(bin);
  for (const name of ['docker', 'aws']) {
    writeFileSync(path.join(bin, name), name === 'docker' ? FAKE_DOCKER : '#!/bin/sh\necho pw\n');
    chmodSync(path.join(bin, name), 0o755);
  }
  writeFileSync(
    path.join(stages, 'prod.json'),
    JSON.stringify({
      region: 'eu-west-1',
      runnerRelease: {
        version: '2.336.0',
        publishedAt: '2026-07-21T00:00:00Z',
        sha256: { x64: X64, arm64: ARM64 },
      },
    }),
  );
  writeFileSync(record, '');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function script(name: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [path.join('scripts', name), ...args], {
    cwd: root,
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_RECORD: record,
      LAMBDA_RUNNER_STAGES_DIR: stages,
      ...env,
    },
    encoding: 'utf8',
  });
  const calls = readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

describe('npm run docker:build / docker:push', () => {
  it('build: for the platform, without provenance, with the locked release and the base digest it resolved and locked', () => {
    const { status, calls } = script('docker-build.mjs', ['--stage', 'prod']);
    expect(status).toBe(0);
    expect(calls).toContainEqual(['pull', 'public.ecr.aws/lambda/nodejs:22']);
    const build = calls.find((call) => call[0] === 'build')!;
    expect(build).toEqual([
      'build',
      '--platform=linux/amd64',
      '--provenance=false',
      '-f',
      'runner/Dockerfile',
      '--target',
      'lambda',
      '-t',
      'lambda-runner-runner:2.336.0-x64',
      '--build-arg',
      'RUNNER_VERSION=2.336.0',
      '--build-arg',
      `RUNNER_SHA256=${X64}`,
      '--build-arg',
      `BASE_IMAGE_DIGEST=${BASE}`,
      '--build-arg',
      expect.stringMatching(/^SAM_CLI_VERSION=\d+\.\d+\.\d+$/),
      '.',
    ]);
    const saved = JSON.parse(readFileSync(path.join(stages, 'prod.json'), 'utf8'));
    expect(saved.baseImage).toEqual({ image: 'public.ecr.aws/lambda/nodejs:22', digest: BASE });
  });

  it('build for arm64 takes the arm64 digest, and a locked base image is not pulled again', () => {
    script('docker-build.mjs', ['--stage', 'prod']);
    writeFileSync(record, '');
    const { status, calls } = script('docker-build.mjs', [
      '--stage',
      'prod',
      '--platform',
      'linux/arm64',
    ]);
    expect(status).toBe(0);
    expect(calls.some((call) => call[0] === 'pull')).toBe(false);
    const build = calls.find((call) => call[0] === 'build')!;
    expect(build).toContain('--platform=linux/arm64');
    expect(build).toContain('lambda-runner-runner:2.336.0-arm64');
    expect(build).toContain(`RUNNER_SHA256=${ARM64}`);
  });

  it('push: pushes the tag build made and prints runnerImageUri with the digest', () => {
    const { status, calls, stdout } = script('docker-push.mjs', ['--stage', 'prod'], {
      REPO_URI: REPO,
    });
    expect(status).toBe(0);
    expect(calls).toContainEqual([
      'tag',
      'lambda-runner-runner:2.336.0-x64',
      `${REPO}:2.336.0-x64`,
    ]);
    expect(calls).toContainEqual(['push', `${REPO}:2.336.0-x64`]);
    expect(stdout).toContain(`--param="runnerImageUri=${REPO}@${PUSHED}"`);
  });

  it('the CodeBuild image: the codebuild target, its own tag, pushed as codebuildImageUriArm64', () => {
    const built = script('docker-build.mjs', [
      '--stage',
      'prod',
      '--platform',
      'linux/arm64',
      '--target',
      'codebuild',
    ]);
    expect(built.status).toBe(0);
    const build = built.calls.find((call) => call[0] === 'build')!;
    expect(build.slice(build.indexOf('--target'), build.indexOf('--target') + 4)).toEqual([
      '--target',
      'codebuild',
      '-t',
      'lambda-runner-codebuild:2.336.0-arm64',
    ]);
    // The same release lock as the Lambda image.
    expect(build).toContain(`RUNNER_SHA256=${ARM64}`);
    writeFileSync(record, '');
    const pushed = script(
      'docker-push.mjs',
      ['--stage', 'prod', '--platform', 'linux/arm64', '--target', 'codebuild'],
      { REPO_URI: REPO },
    );
    expect(pushed.status).toBe(0);
    expect(pushed.calls).toContainEqual(['push', `${REPO}:2.336.0-arm64`]);
    expect(pushed.stdout).toContain(`--param="codebuildImageUriArm64=${REPO}@${PUSHED}"`);
    const refused = script('docker-build.mjs', ['--stage', 'prod', '--target', 'ec2']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--target must be lambda or codebuild, got "ec2"');
  });

  it('a Docker without buildx: one message that says what to install, and no build', () => {
    const { status, calls, stderr } = script('docker-build.mjs', ['--stage', 'prod'], {
      FAKE_NO_BUILDX: '1',
    });
    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^lambda-runner: docker:build: Docker has no buildx plugin.*install it/,
      ),
    ]);
    expect(calls.some((call) => call[0] === 'build')).toBe(false);
  });

  it('a stage with no lock yet: says to run runner-update first', () => {
    const { status, stderr, calls } = script('docker-build.mjs', ['--stage', 'fresh']);
    expect(status).toBe(1);
    expect(stderr).toContain('npx lambda-runner runner-update --stage fresh');
    expect(calls).toEqual([]);
  });
});
