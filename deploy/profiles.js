// @ts-check
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

/** The default profile's labels, shared with the webhook (src/profiles.ts). */
const SEED_LABELS = require('../src/default-runner-labels.json');

/**
 * @typedef {{ name: string, labels: string[], scope?: 'repo' | 'org', group?: string,
 *   memorySize?: number, reservedConcurrency?: number, architecture?: 'x86_64' | 'arm64',
 *   isolation?: 'version' | 'shared', executor?: 'lambda' | 'codebuild', computeType?: string,
 *   timeoutMinutes?: number, docker?: boolean }} DeployProfile
 */

/** CodeBuild's compute types: EC2 (Docker possible) and Lambda (faster start, 15 minutes). */
const EC2_COMPUTE = [
  'BUILD_GENERAL1_SMALL',
  'BUILD_GENERAL1_MEDIUM',
  'BUILD_GENERAL1_LARGE',
  'BUILD_GENERAL1_XLARGE',
  'BUILD_GENERAL1_2XLARGE',
];
const LAMBDA_COMPUTE = [
  'BUILD_LAMBDA_1GB',
  'BUILD_LAMBDA_2GB',
  'BUILD_LAMBDA_4GB',
  'BUILD_LAMBDA_8GB',
  'BUILD_LAMBDA_10GB',
];
/** CodeBuild's longest build that lambda-runner offers (8 hours), and Lambda compute's. */
const MAX_BUILD_MINUTES = 480;
const MAX_LAMBDA_BUILD_MINUTES = 15;

/** A CodeBuild profile's build timeout: its own, else an hour (Lambda compute: 15 minutes). */
const buildTimeout = (/** @type {DeployProfile} */ profile) =>
  profile.timeoutMinutes ??
  (LAMBDA_COMPUTE.includes(profile.computeType ?? '') ? MAX_LAMBDA_BUILD_MINUTES : 60);

/** Whether a profile's jobs run in CodeBuild builds rather than runner functions. */
const isCodeBuild = (/** @type {DeployProfile} */ profile) => profile.executor === 'codebuild';

/**
 * The runner profiles to deploy: `file` (the stage's profile file or `RUNNER_PROFILES_FILE`),
 * else `deploy/runner-profiles.json`, else the one default profile with `defaultLabels` (the
 * seed's labels when empty). One runner function per profile.
 * @param {string | undefined} [file]
 * @param {string[]} [defaultLabels]
 * @returns {DeployProfile[]}
 */
function loadDeployProfiles(file, defaultLabels = []) {
  file ??= path.join(__dirname, 'runner-profiles.json');
  if (!existsSync(file))
    return [{ name: 'default', labels: defaultLabels.length > 0 ? defaultLabels : SEED_LABELS }];
  /** @type {unknown} */
  const parsed = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(`lambda-runner: ${file} must be a non-empty JSON array of profiles`);
  }
  const problems = parsed.flatMap((profile, index) => profileProblems(profile, index));
  if (problems.length > 0)
    throw new Error(`lambda-runner: ${file}:\n  - ${problems.join('\n  - ')}`);
  return parsed;
}

/** @param {any} profile @param {number} index @returns {string[]} */
function profileProblems(profile, index) {
  const where = `profile ${index}`;
  const problems = [];
  if (typeof profile?.name !== 'string' || !/^[a-z][a-z0-9-]{0,19}$/.test(profile.name)) {
    problems.push(`${where}: name must be lower-case letters, digits and dashes (max 20)`);
  }
  if (
    !Array.isArray(profile?.labels) ||
    profile.labels.length === 0 ||
    !profile.labels.every((/** @type {unknown} */ l) => typeof l === 'string' && l)
  ) {
    problems.push(`${where}: labels must be a non-empty array of strings`);
  }
  if (profile?.scope !== undefined && profile.scope !== 'repo' && profile.scope !== 'org') {
    problems.push(`${where}: scope must be "repo" or "org"`);
  }
  if (![undefined, 'version', 'shared'].includes(profile?.isolation)) {
    problems.push(`${where}: isolation must be "version" or "shared"`);
  }
  if (![undefined, 'lambda', 'codebuild'].includes(profile?.executor)) {
    problems.push(`${where}: executor must be "lambda" or "codebuild"`);
  }
  const own = isCodeBuild(profile) ? buildProblems(profile, where) : lambdaOnly(profile, where);
  return [...problems, ...sizeProblems(profile, where), ...own];
}

/** A CodeBuild profile's compute, timeout and Docker. @param {any} profile @param {string} where */
function buildProblems(profile, where) {
  const problems = [];
  const ec2 = EC2_COMPUTE.includes(profile.computeType);
  if (!ec2 && !LAMBDA_COMPUTE.includes(profile.computeType)) {
    problems.push(
      `${where}: computeType must be one of ${[...EC2_COMPUTE, ...LAMBDA_COMPUTE].join(', ')}`,
    );
  }
  const max = LAMBDA_COMPUTE.includes(profile.computeType)
    ? MAX_LAMBDA_BUILD_MINUTES
    : MAX_BUILD_MINUTES;
  const timeout = profile.timeoutMinutes;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 5 && timeout <= max)) {
    problems.push(
      `${where}: timeoutMinutes must be a whole number from 5 to ${max} on ${ec2 ? 'EC2' : 'Lambda'} compute`,
    );
  }
  if (profile.docker !== undefined && typeof profile.docker !== 'boolean') {
    problems.push(`${where}: docker must be true or false`);
  } else if (profile.docker === true && !ec2) {
    problems.push(`${where}: docker needs EC2 compute (privileged mode): a BUILD_GENERAL1_ type`);
  }
  for (const field of ['memorySize', 'reservedConcurrency', 'isolation']) {
    if (profile[field] !== undefined)
      problems.push(
        `${where}: ${field} is for Lambda profiles; a CodeBuild profile sizes by computeType`,
      );
  }
  return problems;
}

/** Fields only a CodeBuild profile takes. @param {any} profile @param {string} where */
function lambdaOnly(profile, where) {
  return ['computeType', 'timeoutMinutes', 'docker']
    .filter((field) => profile?.[field] !== undefined)
    .map((field) => `${where}: ${field} is for executor "codebuild" profiles`);
}

/** @param {any} profile @param {string} where @returns {string[]} */
function sizeProblems(profile, where) {
  const problems = [];
  const arch = profile?.architecture;
  if (arch !== undefined && arch !== 'x86_64' && arch !== 'arm64') {
    problems.push(`${where}: architecture must be "x86_64" or "arm64"`);
  }
  const memory = profile?.memorySize;
  if (memory !== undefined && !(Number.isInteger(memory) && memory >= 128 && memory <= 10240)) {
    problems.push(`${where}: memorySize must be a whole number of MB from 128 to 10240`);
  }
  const reserved = profile?.reservedConcurrency;
  if (reserved !== undefined && !(Number.isInteger(reserved) && reserved >= 1)) {
    problems.push(`${where}: reservedConcurrency must be a whole number >= 1`);
  }
  return problems;
}

/** The function key in serverless.yml: `runner` for the default profile, `runnerGpu` for `gpu`. */
function functionKey(/** @type {DeployProfile} */ profile) {
  if (profile.name === 'default') return 'runner';
  return `runner${profile.name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('')}`;
}

/** CloudFormation logical id the framework gives a function key. */
function functionLogicalId(/** @type {string} */ key) {
  return `${key[0]?.toUpperCase()}${key.slice(1)}LambdaFunction`;
}

/** A CodeBuild profile's project name: it carries the stage. */
function buildProjectName(/** @type {string} */ stage, /** @type {DeployProfile} */ profile) {
  return `lambda-runner-${stage}-build-${profile.name}`;
}

/** The deployed Lambda name: it carries the stage. */
function runnerFunctionName(/** @type {string} */ stage, /** @type {DeployProfile} */ profile) {
  return `lambda-runner-${stage}-runner-${profile.name}`;
}

module.exports = {
  SEED_LABELS,
  loadDeployProfiles,
  functionKey,
  functionLogicalId,
  runnerFunctionName,
  buildProjectName,
  isCodeBuild,
  buildTimeout,
  EC2_COMPUTE,
};
