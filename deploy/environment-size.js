// @ts-check
'use strict';
// Lambda refuses a function whose environment (names and values together) passes 4 KB, and says
// so only half-way through a deploy. The package step checks each function's environment first
// and names the parameter that makes it too big.

const LIMIT = 4096;
/** An ARN or name CloudFormation fills in later: the longest such value here, with room. */
const REFERENCE_BYTES = 160;
/** Where each variable that can grow comes from. */
const SOURCES = {
  ALLOWED_REPOSITORIES: 'allowedRepositories',
  ALLOWED_OWNERS: 'allowedOwners',
  RUNNER_PROFILES: 'the profile file (RUNNER_PROFILES_FILE): fewer profiles, names or labels',
  RUNNER_LABELS: 'runnerLabels',
  REQUIRED_LABEL: 'requiredLabel',
  RUNNER_GROUP: 'runnerGroup',
  GHE_HOST: 'gheHost',
};

/** @param {unknown} value */
const bytes = (value) => (typeof value === 'string' ? Buffer.byteLength(value) : REFERENCE_BYTES);

/**
 * Throws one error naming every function whose environment is too big, with its largest
 * variables and the parameter behind each.
 * @param {Record<string, { name?: string, environment?: Record<string, unknown> }>} functions
 */
function checkEnvironmentSizes(functions) {
  const problems = [];
  for (const [key, fn] of Object.entries(functions)) {
    const entries = Object.entries(fn.environment ?? {}).map(([name, value]) => ({
      name,
      size: Buffer.byteLength(name) + bytes(value),
    }));
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);
    if (total <= LIMIT) continue;
    const largest = entries
      .filter((entry) => entry.name in SOURCES)
      .sort((a, b) => b.size - a.size)
      .slice(0, 2)
      .map(
        (entry) =>
          `${entry.name} (${entry.size} bytes, from ${SOURCES[/** @type {keyof typeof SOURCES} */ (entry.name)]})`,
      );
    problems.push(
      `${fn.name ?? key}: its environment would be ${total} bytes, over Lambda's ${LIMIT}; shorten ${largest.join(' or ')}`,
    );
  }
  if (problems.length > 0)
    throw new Error(`lambda-runner: bad deploy parameters:\n  - ${problems.join('\n  - ')}`);
}

module.exports = { checkEnvironmentSizes, ENVIRONMENT_LIMIT: LIMIT };
