// @ts-check
'use strict';
// Which runner release a package or deploy builds: the stage's lock, else the release the stage
// pins (`runnerVersion`), else GitHub's latest. Whatever it is, it is checked against GitHub's
// rules before anything is built, and locked in the stage file once the command succeeds.
const { Octokit } = require('@octokit/core');
const {
  compareVersions,
  fetchReleases,
  releaseFromApi,
  releaseProblems,
} = require('./runner-release');

/** @typedef {import('./runner-release').RunnerRelease} RunnerRelease */

/**
 * Octokit's `request` for reading actions/runner's releases: github.com's API, or the one
 * `RUNNER_RELEASES_API_URL` names (a mirror, or a test's stand-in).
 * @param {NodeJS.ProcessEnv} env
 */
function releasesRequest(env = process.env) {
  const baseUrl = env.RUNNER_RELEASES_API_URL || 'https://api.github.com';
  return new Octokit({ baseUrl, ...(env.GITHUB_TOKEN ? { auth: env.GITHUB_TOKEN } : {}) }).request;
}

/**
 * @param {{
 *   saved?: RunnerRelease,
 *   pinned?: string,
 *   allowStale?: boolean,
 *   request: import('./runner-release').Request,
 *   now?: number,
 * }} input
 * @returns {Promise<RunnerRelease>}
 */
async function lockRelease({ saved, pinned, allowStale = false, request, now = Date.now() }) {
  const keep = saved && (!pinned || saved.version === pinned) ? saved : undefined;
  /** @type {RunnerRelease[]} */
  let releases = [];
  if (!(allowStale && keep)) {
    try {
      releases = await fetchReleases(request);
    } catch (error) {
      throw new Error(
        `lambda-runner: could not read the runner's releases from GitHub (${/** @type {Error} */ (error).message}); ` +
          'check the network, set GITHUB_TOKEN if rate limited, or set RUNNER_RELEASES_API_URL to a mirror',
      );
    }
  }
  const lock = keep ?? (pinned ? await pinnedRelease(pinned, releases, request) : releases[0]);
  if (!lock) throw new Error('lambda-runner: GitHub lists no release of actions/runner');
  const problems = releaseProblems(lock, releases, { now, allowStale });
  if (problems.length > 0)
    throw new Error(
      `lambda-runner: the runner release cannot be built:\n  - ${problems.join('\n  - ')}`,
    );
  return lock;
}

/** @param {string} version @param {RunnerRelease[]} releases @param {import('./runner-release').Request} request */
async function pinnedRelease(version, releases, request) {
  const listed = releases.find((release) => compareVersions(release.version, version) === 0);
  if (listed) return listed;
  try {
    const { data } = await request('GET /repos/{owner}/{repo}/releases/tags/{tag}', {
      owner: 'actions',
      repo: 'runner',
      tag: `v${version}`,
    });
    return releaseFromApi(data);
  } catch {
    throw new Error(
      `lambda-runner: runnerVersion=${version}: GitHub has no such release of actions/runner`,
    );
  }
}

module.exports = { lockRelease, releasesRequest };
