// @ts-check
'use strict';
// The runner image as deploy and the docker:build / docker:push scripts make it: one tag per
// release and architecture, the build arguments from the stage's locks, the base image pinned
// by the digest Docker resolved for its tag, and the one Docker check (an engine, with buildx,
// which --platform and --provenance need).
const { execFileSync } = require('node:child_process');

/** What runner/Dockerfile builds FROM, pinned by digest. */
const BASE_IMAGE = 'public.ecr.aws/lambda/nodejs:22';
const SAM_CLI_VERSION = require('./runner-release.json').samCliVersion;

/** @typedef {(command: string, args: string[]) => string} Exec  runs a command, returns stdout, throws on failure */

/** @type {Exec} */
const run = (command, args) =>
  execFileSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });

/** `x64` or `arm64`, from a Docker platform. @param {string} platform */
const archOf = (platform) => (platform === 'linux/arm64' ? 'arm64' : 'x64');

/**
 * The local tag docker:build makes and docker:push pushes: the Lambda runner image, or (target
 * `codebuild`) the CodeBuild runner image built from the same layers.
 * @param {string} version @param {string} arch @param {'lambda' | 'codebuild'} [target]
 */
const localTag = (version, arch, target = 'lambda') =>
  `lambda-runner-${target === 'codebuild' ? 'codebuild' : 'runner'}:${version}-${arch}`;

/** The deploy parameter that takes a pushed image. @param {string} arch @param {'lambda' | 'codebuild'} target */
const imageParam = (arch, target) =>
  `${target === 'codebuild' ? 'codebuildImageUri' : 'runnerImageUri'}${arch === 'arm64' ? 'Arm64' : ''}`;

/**
 * Why Docker cannot build the runner image here, or nothing when it can.
 * @param {Exec} exec
 */
function dockerProblem(exec = run) {
  try {
    exec('docker', ['version', '--format', '{{.Server.Version}}']);
  } catch {
    return 'no Docker engine answers';
  }
  try {
    exec('docker', ['buildx', 'version']);
  } catch {
    return (
      'Docker has no buildx plugin, which building for a platform without provenance needs: install it ' +
      '(Debian/Ubuntu: apt-get install docker-buildx-plugin; Docker Desktop ships it)'
    );
  }
  return undefined;
}

/**
 * The digest of the base image's tag as its registry serves it today: pulled, then read from
 * the image's repo digests.
 * @param {Exec} exec
 * @returns {string} sha256:<64 hex>
 */
function resolveBaseImageDigest(exec = run) {
  exec('docker', ['pull', BASE_IMAGE]);
  const digests = JSON.parse(
    exec('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', BASE_IMAGE]) || '[]',
  );
  const repo = BASE_IMAGE.split(':')[0];
  const found = /** @type {string[]} */ (digests ?? [])
    .map((entry) => /^(.*)@(sha256:[0-9a-f]{64})$/.exec(entry))
    .find((match) => match?.[1] === repo)?.[2];
  if (!found)
    throw new Error(
      `lambda-runner: docker pulled ${BASE_IMAGE} but shows no digest for it; pass --param="baseImageDigest=sha256:<digest>"`,
    );
  return found;
}

/**
 * The Dockerfile's build arguments for one architecture.
 * @param {import('./runner-release').RunnerRelease} release
 * @param {'x64' | 'arm64'} arch
 * @param {string} baseImageDigest
 */
function buildArgs(release, arch, baseImageDigest) {
  return {
    RUNNER_VERSION: release.version,
    RUNNER_SHA256: release.sha256[arch] ?? '',
    BASE_IMAGE_DIGEST: baseImageDigest,
    SAM_CLI_VERSION,
  };
}

module.exports = {
  BASE_IMAGE,
  archOf,
  buildArgs,
  dockerProblem,
  imageParam,
  localTag,
  resolveBaseImageDigest,
};
