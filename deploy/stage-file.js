// @ts-check
'use strict';
// Per-stage settings the user commits: deploy/stages/<stage>.json holds the region, the deploy
// parameters and the profile file of a stage, so `deploy`, a plain redeploy, `remove`, `status`
// and `explain` all act on the same stack with the same settings. A `--param` or `--region`
// given to `serverless package/deploy` is remembered there, with the runner release it built
// from (the lock), once that package or deploy succeeded (stage-file-plugin.js): a failed one
// leaves no stage file behind. Nothing is ever dropped silently.
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { commandLineParams, resolveParameters } = require('./parameters');

/**
 * @typedef {{
 *   region?: string,
 *   profilesFile?: string,
 *   params?: Record<string, string>,
 *   runnerRelease?: import('./runner-release').RunnerRelease,
 *   baseImage?: { image: string, digest: string },
 * }} StageFile
 */

const STAGE_NAME = /^[a-z][a-z0-9-]{0,15}$/;

/** @param {NodeJS.ProcessEnv} env */
function stagesDir(env = process.env) {
  return env.LAMBDA_RUNNER_STAGES_DIR
    ? path.resolve(env.LAMBDA_RUNNER_STAGES_DIR)
    : path.join(__dirname, 'stages');
}

/** @param {string} stage @param {NodeJS.ProcessEnv} env */
function stageFilePath(stage, env = process.env) {
  if (!STAGE_NAME.test(stage)) {
    throw new Error(
      `lambda-runner: stage "${stage}" must be lower-case letters, digits and dashes (max 16), starting with a letter`,
    );
  }
  return path.join(stagesDir(env), `${stage}.json`);
}

/**
 * A stage's saved settings; an empty object for a stage never deployed.
 * @param {string} stage @param {NodeJS.ProcessEnv} env @returns {StageFile}
 */
function readStageFile(stage, env = process.env) {
  const file = stageFilePath(stage, env);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `lambda-runner: ${file} is not valid JSON: ${/** @type {Error} */ (error).message}`,
    );
  }
}

/** @param {string[]} argv @param {string[]} names */
function option(argv, names) {
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    for (const name of names) {
      if (arg === name) return argv[index + 1];
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
    }
  }
  return undefined;
}

/**
 * The stage, region, parameters and profile file in force for this command: the command line
 * over the stage file over the defaults. What the command line added goes back into the stage
 * file once a `package` or `deploy` succeeded (commitStageFile).
 * @param {{ argv?: string[], env?: NodeJS.ProcessEnv }} [options]
 */
function deployContext({ argv = process.argv.slice(2), env = process.env } = {}) {
  const stage = option(argv, ['--stage', '-s']) ?? 'dev';
  const saved = readStageFile(stage, env);
  const cliParams = commandLineParams(argv);
  const region = option(argv, ['--region', '-r']) ?? saved.region ?? 'us-east-1';
  const profilesFile = env.RUNNER_PROFILES_FILE
    ? path.resolve(env.RUNNER_PROFILES_FILE)
    : saved.profilesFile && path.resolve(stagesDir(env), saved.profilesFile);
  const given = { ...(saved.params ?? {}), ...cliParams };
  const params = resolveParameters(given);
  // `deploy list` or `deploy function` is not a deploy of the stack: keep the subcommand.
  const command = [argv[0], /^[a-z]/.test(argv[1] ?? '') ? argv[1] : undefined]
    .filter(Boolean)
    .join(' ');
  if (['package', 'deploy'].includes(command)) {
    pending.set(stage, {
      env,
      saved,
      next: {
        ...pending.get(stage)?.next,
        region,
        ...(profilesFile ? { profilesFile: path.relative(stagesDir(env), profilesFile) } : {}),
        params: given,
      },
    });
  }
  return { stage, region, params, profilesFile, command, saved };
}

/**
 * What a package or deploy of each stage will remember once it succeeds.
 * @type {Map<string, { env: NodeJS.ProcessEnv, saved: StageFile, next: StageFile }>}
 */
const pending = new Map();

/**
 * Adds to what the stage file will hold after success (the runner release lock).
 * @param {string} stage @param {StageFile} fields
 */
function rememberAfterSuccess(stage, fields) {
  const entry = pending.get(stage);
  if (entry) entry.next = { ...entry.next, ...fields };
}

/** Writes what a package or deploy that succeeded should remember. @param {string} stage */
function commitStageFile(stage) {
  const entry = pending.get(stage);
  if (!entry) return;
  pending.delete(stage);
  const merged = { ...entry.saved, ...entry.next };
  if (JSON.stringify(merged) === JSON.stringify(entry.saved)) return;
  mkdirSync(stagesDir(entry.env), { recursive: true });
  writeFileSync(stageFilePath(stage, entry.env), `${JSON.stringify(merged, null, 2)}\n`);
}

/**
 * Writes one field of a stage file now (`runner-update`, which is its own command).
 * @param {string} stage @param {StageFile} fields @param {NodeJS.ProcessEnv} env
 */
function updateStageFile(stage, fields, env = process.env) {
  const merged = { ...readStageFile(stage, env), ...fields };
  mkdirSync(stagesDir(env), { recursive: true });
  writeFileSync(stageFilePath(stage, env), `${JSON.stringify(merged, null, 2)}\n`);
}

module.exports = {
  commitStageFile,
  deployContext,
  readStageFile,
  rememberAfterSuccess,
  stageFilePath,
  stagesDir,
  updateStageFile,
};
