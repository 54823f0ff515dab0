// @ts-check
'use strict';
// The webhook's routing settings of a stage, from what deploy uses: the stage file, its
// parameters and its profile file. The template's webhook environment and
// `lambda-runner explain --stage` both come from here, so they cannot disagree.
const {
  loadDeployProfiles,
  runnerFunctionName,
  buildProjectName,
  isCodeBuild,
  buildTimeout,
} = require('./profiles');
const { splitList } = require('./parameters');
const { deployContext, readStageFile } = require('./stage-file');

/**
 * The profiles as RUNNER_PROFILES lists them for a stage.
 * @param {string} stage @param {import('./profiles').DeployProfile[]} profiles
 */
function profileList(stage, profiles) {
  return profiles.map((profile) => ({
    name: profile.name,
    labels: profile.labels,
    ...(isCodeBuild(profile) ? buildFields(stage, profile) : lambdaFields(stage, profile)),
    ...(profile.scope ? { scope: profile.scope } : {}),
    ...(profile.group ? { group: profile.group } : {}),
  }));
}

/** @param {string} stage @param {import('./profiles').DeployProfile} profile */
const lambdaFields = (stage, profile) => ({
  functionName: runnerFunctionName(stage, profile),
  ...(profile.isolation ? { isolation: profile.isolation } : {}),
});

/** @param {string} stage @param {import('./profiles').DeployProfile} profile */
const buildFields = (stage, profile) => ({
  executor: 'codebuild',
  projectName: buildProjectName(stage, profile),
  computeType: profile.computeType,
  timeoutMinutes: buildTimeout(profile),
  docker: profile.docker === true,
});

/**
 * The routing environment of a stage as deployed: REQUIRED_LABEL, the allow lists and
 * RUNNER_PROFILES.
 * @param {{ stage: string, params: Record<string, string>, profiles: import('./profiles').DeployProfile[] }} s
 * @returns {Record<string, string>}
 */
function routingEnvironment({ stage, params, profiles }) {
  return {
    REQUIRED_LABEL: params.requiredLabel ?? '',
    ALLOWED_REPOSITORIES: params.allowedRepositories ?? '',
    ALLOWED_OWNERS: params.allowedOwners ?? '',
    ALLOW_PUBLIC_REPOSITORIES: params.allowPublicRepositories ?? '',
    RUNNER_PROFILES: JSON.stringify(profileList(stage, profiles)),
  };
}

/**
 * A stage's routing environment as deploy would read it with no `--param` (its stage file, the
 * defaults, its profile file), for `lambda-runner explain --stage`.
 * @param {string} stage @param {NodeJS.ProcessEnv} [env]
 */
function stageRouting(stage, env = process.env) {
  const context = deployContext({ argv: ['explain', '--stage', stage], env });
  const profiles = loadDeployProfiles(
    context.profilesFile,
    splitList(context.params.runnerLabels ?? ''),
  );
  return {
    known: Object.keys(readStageFile(stage, env)).length > 0,
    env: routingEnvironment({ stage, params: context.params, profiles }),
  };
}

module.exports = { profileList, routingEnvironment, stageRouting };
