// @ts-check
'use strict';
// The actions runner release a stage builds from. GitHub registers only runners at or above its
// minimum version, and sends jobs only to runners that took each new release within 30 days of
// its publication. So the release is read from GitHub's releases API (version, publication date,
// and each architecture's sha256 from the asset's `digest`), locked in the stage file, checked
// before every package or deploy, and watched by the broker's daily check.

/** GitHub refuses to register a runner older than this. */
const MINIMUM_VERSION = '2.329.0';
/** GitHub stops sending jobs to a runner this many days after a newer release came out. */
const MAX_DAYS_BEHIND = 30;
/** The alarm on RunnerDaysBehind fires here: ten days before GitHub stops sending jobs. */
const ALARM_DAYS_BEHIND = 20;
const DAY_MS = 86_400_000;
const ARCHITECTURES = /** @type {const} */ (['x64', 'arm64']);

/**
 * @typedef {{ x64?: string, arm64?: string }} Digests
 * @typedef {{ version: string, publishedAt: string, sha256: Digests }} RunnerRelease
 * @typedef {(route: string, params?: Record<string, unknown>) => Promise<{ data: unknown }>} Request
 */

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b` (x.y.z). @param {string} a @param {string} b */
function compareVersions(a, b) {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

/**
 * One release as GitHub's API shows it, reduced to what a lock holds. An asset's `digest`
 * ("sha256:<hex>") is GitHub's own checksum of the file it serves.
 * @param {any} data a release object from GET /repos/actions/runner/releases
 * @returns {RunnerRelease}
 */
function releaseFromApi(data) {
  const version = String(data.tag_name ?? '').replace(/^v/, '');
  /** @type {Digests} */
  const sha256 = {};
  for (const arch of ARCHITECTURES) {
    const asset = (data.assets ?? []).find(
      (/** @type {{ name?: string }} */ candidate) =>
        candidate.name === `actions-runner-linux-${arch}-${version}.tar.gz`,
    );
    const digest = /^sha256:([0-9a-f]{64})$/.exec(String(asset?.digest ?? ''))?.[1];
    if (digest) sha256[arch] = digest;
  }
  return { version, publishedAt: String(data.published_at ?? ''), sha256 };
}

/**
 * The runner's published releases, newest first: drafts, pre-releases and tags that are not a
 * version left out.
 * @param {Request} request Octokit's `request`, pointed at github.com's API
 * @returns {Promise<RunnerRelease[]>}
 */
async function fetchReleases(request) {
  const { data } = await request('GET /repos/{owner}/{repo}/releases', {
    owner: 'actions',
    repo: 'runner',
    per_page: 30,
  });
  return /** @type {any[]} */ (data)
    .filter((release) => !release.draft && !release.prerelease)
    .map(releaseFromApi)
    .filter((release) => /^\d+\.\d+\.\d+$/.test(release.version))
    .sort((a, b) => compareVersions(b.version, a.version));
}

/**
 * Whole days since the first release newer than `version` came out: the clock GitHub's 30-day
 * rule runs on. 0 while `version` is the latest.
 * @param {string} version @param {RunnerRelease[]} releases @param {number} now epoch ms
 */
function daysBehind(version, releases, now) {
  const newer = releases
    .filter((release) => compareVersions(release.version, version) > 0)
    .map((release) => Date.parse(release.publishedAt))
    .filter((at) => Number.isFinite(at));
  if (newer.length === 0) return 0;
  return Math.max(0, Math.floor((now - Math.min(...newer)) / DAY_MS));
}

/**
 * What is wrong with building `lock`, each with the fix; empty when it may be built.
 * @param {RunnerRelease} lock
 * @param {RunnerRelease[]} releases newest first; empty when GitHub could not be asked
 * @param {{ now: number, allowStale?: boolean }} options
 * @returns {string[]}
 */
function releaseProblems(lock, releases, { now, allowStale = false }) {
  const problems = [];
  if (compareVersions(lock.version, MINIMUM_VERSION) < 0)
    problems.push(
      `runner ${lock.version} is older than ${MINIMUM_VERSION}, GitHub's minimum: it would refuse every runner. ` +
        'Run npx lambda-runner runner-update --stage <stage>',
    );
  for (const arch of ARCHITECTURES)
    if (!/^[0-9a-f]{64}$/.test(lock.sha256[arch] ?? ''))
      problems.push(
        `runner ${lock.version} has no ${arch} sha256 in the lock: run npx lambda-runner runner-update --stage <stage> to read it from GitHub's release`,
      );
  const behind = daysBehind(lock.version, releases, now);
  if (!allowStale && behind > MAX_DAYS_BEHIND)
    problems.push(
      `runner ${lock.version} is ${behind} days behind ${releases[0]?.version} (GitHub sends jobs only to runners within ${MAX_DAYS_BEHIND} days): ` +
        'run npx lambda-runner runner-update --stage <stage>, or --param="runnerAllowStale=true" for an air-gapped GHES',
    );
  return problems;
}

/**
 * What moved between two locks, for `runner-update`'s answer.
 * @param {RunnerRelease | undefined} before @param {RunnerRelease} after
 */
function describeChange(before, after) {
  const digests = ARCHITECTURES.map((arch) => `${arch} sha256 ${after.sha256[arch] ?? 'missing'}`);
  if (!before)
    return [`locked runner ${after.version} (published ${after.publishedAt})`, ...digests];
  if (before.version === after.version)
    return [
      `runner ${after.version} is already the latest release (published ${after.publishedAt})`,
    ];
  return [
    `runner ${before.version} -> ${after.version} (published ${after.publishedAt})`,
    ...digests,
    `https://github.com/actions/runner/releases/tag/v${after.version}`,
  ];
}

module.exports = {
  ALARM_DAYS_BEHIND,
  MAX_DAYS_BEHIND,
  MINIMUM_VERSION,
  compareVersions,
  daysBehind,
  describeChange,
  fetchReleases,
  releaseFromApi,
  releaseProblems,
};
