// @ts-check
'use strict';
// Every deploy parameter: its default and the check it must pass. A bad value stops
// `serverless package/deploy` with one error naming each parameter at fault and what it accepts,
// instead of a template that drops the setting or a stack that fails half-way.

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const ECR_DIGEST_URI =
  /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/;
const POLICY_ARN = /^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]+$/;
const LABEL = /^[^,\s]{1,100}$/;

/** @typedef {(value: string) => string | undefined} Check  returns what is wrong, or nothing */

/** @param {string[]} values @returns {Check} */
const oneOf = (values) => (value) =>
  values.includes(value) ? undefined : `must be one of ${values.join(', ')}`;

/** @param {number} min @param {number} max @returns {Check} */
const intRange = (min, max) => (value) =>
  /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max
    ? undefined
    : `must be a whole number from ${min} to ${max}`;

/** @param {RegExp} pattern @param {string} what @returns {Check} */
const matches = (pattern, what) => (value) => (pattern.test(value) ? undefined : `must be ${what}`);

/** A comma list whose every item passes `item`; empty allowed only when `allowEmpty`. */
const listOf =
  (/** @type {Check} */ item, /** @type {boolean} */ allowEmpty) =>
  (/** @type {string} */ value) => {
    const items = splitList(value);
    if (items.length === 0) return allowEmpty ? undefined : 'must list at least one item';
    const bad = items.filter((entry) => item(entry) !== undefined);
    return bad.length === 0
      ? undefined
      : `has bad items: ${bad.join(', ')} (${item(bad[0] ?? '')})`;
  };

/** A host name with an optional port from 1 to 65535. @type {Check} */
const hostAndPort = (value) => {
  const match = /^[a-z0-9.-]+(?::(\d{1,5}))?$/i.exec(value);
  const port = match?.[1] === undefined ? 1 : Number(match[1]);
  return match && port >= 1 && port <= 65535
    ? undefined
    : 'must be a host name, with an optional :port from 1 to 65535';
};

/** Empty, or passing `check`. */
const optional = (/** @type {Check} */ check) => (/** @type {string} */ value) =>
  value === '' ? undefined : check(value);

/** Empty, or an ECR image pinned by digest. */
const ecrImage = optional(
  matches(ECR_DIGEST_URI, 'an ECR image pinned by digest: <uri>@sha256:<64 hex>'),
);

/** @type {Record<string, { default: string, check: Check, about: string }>} */
const PARAMETERS = {
  reservedConcurrency: {
    default: '10',
    check: intRange(1, 900),
    about: 'runner functions that may run at once, per profile (each is one job)',
  },
  webhookReservedConcurrency: {
    default: '5',
    check: intRange(1, 100),
    about: 'webhook functions that may run at once: kept for GitHub whatever else runs',
  },
  brokerReservedConcurrency: {
    default: '10',
    check: intRange(1, 100),
    about: 'broker functions that may run at once: kept for dispatching whatever jobs do',
  },
  environmentPoolSize: {
    default: '2',
    check: intRange(0, 20),
    about: 'fresh runner versions kept ready per profile (one job per version)',
  },
  apiThrottleRateLimit: {
    default: '50',
    check: intRange(1, 10000),
    about: 'webhook requests per second the HTTP API accepts (steady rate)',
  },
  apiThrottleBurstLimit: {
    default: '200',
    check: intRange(1, 5000),
    about: 'webhook requests the HTTP API accepts at once (burst)',
  },
  additionalApps: {
    default: '0',
    check: intRange(0, 4),
    about:
      "more GitHub Apps, installed where the first is, for bursts past one App's limits: a secret each (npm run deploy:secrets -- --app 2)",
  },
  accountConcurrency: {
    default: '1000',
    check: intRange(10, 100000),
    about: "the account's Lambda concurrency quota in this region (Service Quotas)",
  },
  logRetentionDays: {
    default: '7',
    check: oneOf(LOG_RETENTION_DAYS.map(String)),
    about: 'days CloudWatch keeps each function log',
  },
  maximumEventAgeSeconds: {
    default: '21600',
    check: intRange(60, 21600),
    about: 'how long Lambda keeps trying to start a queued runner event (throttled) before the DLQ',
  },
  jobPolicies: {
    default: '',
    check: (value) =>
      listOf(
        (item) =>
          item === 'sam-deploy' || POLICY_ARN.test(item)
            ? undefined
            : 'each item is sam-deploy or an IAM managed policy ARN',
        true,
      )(value) ??
      (splitList(value).length > 10
        ? `names ${splitList(value).length} policies: a role takes at most 10 managed policies (IAM's default quota)`
        : undefined),
    about: 'what jobs may do in AWS: managed policy ARNs, or sam-deploy for the example policy',
  },

  alarmEmail: {
    default: '',
    check: optional(matches(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'an e-mail address')),
    about: 'where alarms are sent; without it the alarms notify no one',
  },
  requiredLabel: {
    default: 'lambda-runner',
    check: matches(LABEL, 'one label: no comma, no space, 1 to 100 characters'),
    about: 'a job must carry this label to be served',
  },
  runnerLabels: {
    default: '',
    check: optional(listOf(matches(LABEL, 'a label without spaces'), false)),
    about: 'the default profile labels when no profile file is used (empty: the image labels)',
  },
  allowedRepositories: {
    default: '',
    check: listOf(matches(/^[\w.-]+\/[\w.-]+$/, 'owner/repo'), true),
    about: 'comma list of owner/repo served (empty with allowedOwners empty: all)',
  },
  allowedOwners: {
    default: '',
    check: listOf(matches(/^[\w.-]+$/, 'an account or organization name'), true),
    about: 'comma list of owners served',
  },
  allowPublicRepositories: {
    default: 'false',
    check: oneOf(['true', 'false']),
    about: 'serve public repositories (fork pull requests can run code)',
  },
  runnerScope: { default: 'repo', check: oneOf(['repo', 'org']), about: 'where runners register' },
  runnerGroup: {
    default: 'Default',
    check: matches(/^.{1,100}$/, 'a runner group name'),
    about: 'org runner group',
  },
  runnerRegistration: {
    default: 'jit',
    check: oneOf(['jit', 'token']),
    about: 'jit (one-use runner config, default) or token (weaker: see the README)',
  },
  logLevel: { default: 'info', check: oneOf(LOG_LEVELS), about: 'log level of every function' },
  gheHost: {
    default: '',
    check: optional(hostAndPort),
    about: 'GitHub Enterprise Server host (empty: github.com)',
  },
  gheProtocol: { default: 'https', check: oneOf(['https', 'http']), about: 'GHES protocol' },
  runnerImageUri: {
    default: '',
    check: ecrImage,
    about: 'a pushed x86_64 runner image (else Docker builds runner/Dockerfile)',
  },
  runnerImageUriArm64: {
    default: '',
    check: ecrImage,
    about: 'a pushed arm64 runner image',
  },
  codebuildImageUri: {
    default: '',
    check: ecrImage,
    about:
      'the pushed x86_64 CodeBuild runner image (npm run docker:build -- --target codebuild), for codebuild profiles',
  },
  codebuildImageUriArm64: {
    default: '',
    check: ecrImage,
    about: 'the pushed arm64 CodeBuild runner image, for arm64 codebuild profiles',
  },
  buildQueuedAlarmMinutes: {
    default: '5',
    check: intRange(1, 480),
    about: 'a CodeBuild profile alarms when a build waits longer than this for its machine',
  },
  runnerVersion: {
    default: '',
    check: optional(matches(/^\d+\.\d+\.\d+$/, 'a release version such as 2.336.0 (never latest)')),
    about: "pins the actions runner release (empty: the stage's lock, else GitHub's latest)",
  },
  runnerAllowStale: {
    default: 'false',
    check: oneOf(['false', 'true']),
    about: 'build a runner more than 30 days behind (air-gapped GHES only)',
  },
  baseImageDigest: {
    default: '',
    check: optional(matches(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex>')),
    about:
      "pins public.ecr.aws/lambda/nodejs:22 (empty: the stage's lock, else the tag's digest today)",
  },
};

/** @param {string} value */
function splitList(value) {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * `--param="name=value"` and `--param name=value` from the command line.
 * @param {string[]} argv
 * @returns {Record<string, string>}
 */
function commandLineParams(argv) {
  /** @type {Record<string, string>} */
  const params = {};
  argv.forEach((arg, index) => {
    const text = arg.startsWith('--param=')
      ? arg.slice(8)
      : arg === '--param'
        ? argv[index + 1]
        : undefined;
    if (text === undefined) return;
    const at = text.indexOf('=');
    if (at > 0) params[text.slice(0, at)] = text.slice(at + 1);
  });
  return params;
}

/**
 * The parameters in force: the command line over the stage file over the defaults. Every
 * unknown name and bad value is reported in one error.
 * @param {Record<string, string>} given
 * @returns {Record<string, string>}
 */
function resolveParameters(given) {
  const problems = [];
  /** @type {Record<string, string>} */
  const result = {};
  for (const name of Object.keys(given)) {
    if (!(name in PARAMETERS))
      problems.push(`${name}: unknown parameter; known: ${Object.keys(PARAMETERS).join(', ')}`);
  }
  for (const [name, spec] of Object.entries(PARAMETERS)) {
    const value = String(given[name] ?? spec.default).trim();
    const wrong = spec.check(value);
    if (wrong) problems.push(`${name}=${JSON.stringify(value)}: ${wrong}`);
    result[name] = value;
  }
  if (problems.length > 0) {
    throw new Error(`lambda-runner: bad deploy parameters:\n  - ${problems.join('\n  - ')}`);
  }
  return result;
}

/**
 * Unreserved concurrency must stay >= 100 in the account (Lambda refuses reservations that
 * would take it lower), so all reservations together fit under the quota minus 100.
 * @param {number[]} reservations @param {number} accountConcurrency
 */
function checkConcurrencyHeadroom(reservations, accountConcurrency) {
  const total = reservations.reduce((sum, value) => sum + value, 0);
  if (total > accountConcurrency - 100) {
    throw new Error(
      `lambda-runner: bad deploy parameters:\n  - reservedConcurrency: the stack reserves ${total} ` +
        `but accountConcurrency=${accountConcurrency} leaves room for ${accountConcurrency - 100} ` +
        '(Lambda keeps 100 unreserved); lower reservedConcurrency (or the webhook and broker ' +
        'reservations, webhookReservedConcurrency and brokerReservedConcurrency) or raise the quota',
    );
  }
}

module.exports = {
  PARAMETERS,
  LOG_RETENTION_DAYS,
  commandLineParams,
  resolveParameters,
  checkConcurrencyHeadroom,
  splitList,
};
