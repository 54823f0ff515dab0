import { ConfigError } from '../errors';
import { readProfiles, readWebhookSecret } from '../config';
import { createEnvReader, isLambda, LOG_LEVELS, type Env, type EnvReader } from '../env';
import type { RunnerProfile } from '../profiles';
import { SecretSource } from '../secret-source';

/** An App's id and private key: direct values, or a Secrets Manager JSON `{"appId","privateKey"}`. */
export type AppSource =
  { readonly appId: string; readonly privateKey: SecretSource } | { readonly json: SecretSource };

export interface BrokerConfig {
  /** App id and private key: direct values, or a Secrets Manager JSON `{"appId","privateKey"}`. */
  readonly appCredentials: AppSource;
  /**
   * More Apps installed where the first is, each with GitHub's limits of its own: the broker
   * registers each job's runner with one of them in turn (Secrets Manager JSONs like the first).
   */
  readonly additionalApps: readonly AppSource[];
  /** The seal key is derived from it (seal.ts). */
  readonly webhookSecret: SecretSource;
  /** REST API base: api.github.com, or `<proto>://<GHE_HOST>/api/v3` for GitHub Enterprise Server. */
  readonly apiBaseUrl: string;
  /** Where runners register: `https://github.com`, or the GHES web URL. */
  readonly webBaseUrl: string;
  readonly profiles: readonly RunnerProfile[];
  readonly scope: 'repo' | 'org';
  readonly group: string;
  readonly registration: 'jit' | 'token';
  /** Runners started for one job attempt at most, the first dispatch included. */
  readonly maxDispatches: number;
  /**
   * The longest a runner event can live: its maximum age in Lambda's queue, the runner's 15
   * minutes, and 15 more for the destination record's delivery. A runner payload sealed longer
   * ago is a replay, and its destination record is refused.
   */
  readonly runnerEventLifetimeMs: number;
  /** Offline runners of ours older than this are orphans (longer than any Lambda lives). */
  readonly janitorGraceMs: number;
  /** GitHub calls one scheduled run may make. */
  readonly janitorMaxCalls: number;
  /** Failed webhook deliveries this recent are redelivered. */
  readonly redeliveryWindowMs: number;
  /** Redeliveries per delivery at most. */
  readonly redeliveryMaxAttempts: number;
  /** GitHub calls one redelivery run may make. */
  readonly redeliveryMaxCalls: number;
  /** Redeliveries one schedule run may ask for, scaled to the failures it finds. */
  readonly redeliveriesPerRun: number;
  /** The broker's SQS dead-letter queue, replayed on the schedule. */
  readonly deadLetterQueueUrl?: string;
  /**
   * The longest GitHub rate-limit wait a broker sleeps through; a longer one sends its event
   * back (to its queue, hidden until the window ends). 60 s by default; 5 s as deployed, where
   * jobs wait in the queue rather than in a running function.
   */
  readonly rateLimitMaxSleepMs: number;
  /**
   * GitHub points each caller may spend a minute, every container together (GitHub's secondary
   * limit is 900); 0: no budget, only GitHub's own answers pace the brokers. 900 as deployed.
   */
  readonly pointsPerMinute: number;
  /** The queues it consumes (dispatch, settle), to hide a message for GitHub's wait. */
  readonly queueUrls: readonly string[];
  /**
   * The alias the schedule's rule invokes (`schedule` in a deployed stack): a schedule event that
   * arrives any other way (a queue message, a direct invoke) is refused.
   */
  readonly scheduleAlias?: string;
  /** The stack's control table (DynamoDB): runner starts per job attempt, the version pool. */
  readonly controlTable?: string;
  /** A profile's isolation when it names none: `version` in a deployed stack. */
  readonly isolation: 'version' | 'shared';
  /** Fresh runner versions kept ready per function (isolation `version`). */
  readonly environmentPoolSize: number;
  /** The runner functions' deployment mark: versions published under another are stale. */
  readonly deployment: string;
  /** Replays per dead letter at most. */
  readonly maxReplays: number;
  readonly logLevel: string;
  /** The runner release the stage's images were built from, for the daily currency check. */
  readonly runnerVersion?: string;
  /** Where actions/runner's releases are read: github.com's API, or a mirror. */
  readonly releasesApiUrl: string;
}

/**
 * Parses and validates the broker's environment once per container; reports every problem in
 * one {@link ConfigError}. Secrets are held as masked sources, never as strings.
 */
export function loadBrokerConfig(env: Env = process.env): BrokerConfig {
  const read = createEnvReader(env);
  const config: BrokerConfig = {
    appCredentials: appCredentials(read),
    additionalApps: additionalApps(read),
    webhookSecret: readWebhookSecret(read),
    ...gitHubUrls(read),
    profiles: readProfiles(read, isLambda(env)),
    scope: read.oneOf('RUNNER_SCOPE', ['repo', 'org'], 'repo'),
    group: read.text('RUNNER_GROUP', 'Default'),
    registration: read.oneOf('RUNNER_REGISTRATION', ['jit', 'token'], 'jit'),
    maxDispatches: read.int('RUNNER_MAX_DISPATCHES', 3, 1),
    runnerEventLifetimeMs: (read.int('RUNNER_EVENT_MAX_AGE_SECONDS', 21600, 60) + 1800) * 1000,
    janitorGraceMs: read.int('JANITOR_GRACE_MINUTES', 20, 16) * 60_000,
    janitorMaxCalls: read.int('JANITOR_MAX_CALLS', 200, 1),
    redeliveryWindowMs: read.int('REDELIVERY_WINDOW_MINUTES', 60, 1) * 60_000,
    redeliveryMaxAttempts: read.int('REDELIVERY_MAX_ATTEMPTS', 3, 1),
    redeliveryMaxCalls: read.int('REDELIVERY_MAX_CALLS', 50, 1),
    redeliveriesPerRun: read.int('REDELIVERIES_PER_RUN', 150, 1),
    deadLetterQueueUrl: read.string('BROKER_DLQ_URL'),
    rateLimitMaxSleepMs: read.int('RATE_LIMIT_MAX_SLEEP_SECONDS', 60, 0) * 1000,
    pointsPerMinute: read.int('GITHUB_POINTS_PER_MINUTE', 0, 0),
    queueUrls: [read.string('DISPATCH_QUEUE_URL'), read.string('SETTLE_QUEUE_URL')].filter(
      (url): url is string => Boolean(url),
    ),
    controlTable: read.string('CONTROL_TABLE'),
    scheduleAlias: read.string('SCHEDULE_ALIAS'),
    isolation: read.oneOf('RUNNER_ISOLATION', ['version', 'shared'], 'shared'),
    environmentPoolSize: read.int('RUNNER_ENVIRONMENT_POOL', 2, 0),
    deployment: read.text('RUNNER_DEPLOYMENT', 'local'),
    maxReplays: read.int('DEAD_LETTER_MAX_REPLAYS', 3, 1),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    runnerVersion: read.string('RUNNER_VERSION'),
    releasesApiUrl: read.text('RUNNER_RELEASES_API_URL', 'https://api.github.com'),
  };
  const versioned = config.profiles.some((profile) => isVersioned(profile, config));
  if (versioned && !config.controlTable)
    read.problems.push('isolation "version" needs the control table (CONTROL_TABLE)');
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

function appCredentials(read: EnvReader): BrokerConfig['appCredentials'] {
  const secretId = read.string('GITHUB_APP_SECRET_ARN');
  if (secretId) return { json: SecretSource.fromSecretsManager(secretId) };
  const appId = read.text('APP_ID', '');
  const privateKey = read.text('PRIVATE_KEY', '');
  if (!appId || !privateKey) {
    read.problems.push('APP_ID and PRIVATE_KEY, or GITHUB_APP_SECRET_ARN, are required');
  }
  return { appId, privateKey: SecretSource.fromValue(privateKey) };
}

/**
 * `ADDITIONAL_APP_SECRET_ARNS` (Secrets Manager ids, comma-separated, each a JSON like the first
 * App's), or locally `ADDITIONAL_APPS`, a JSON array of `{"appId","privateKey"}`.
 */
function additionalApps(read: EnvReader): AppSource[] {
  const stored = read.list('ADDITIONAL_APP_SECRET_ARNS');
  if (stored.length > 0) return stored.map((id) => ({ json: SecretSource.fromSecretsManager(id) }));
  const given = read.string('ADDITIONAL_APPS');
  if (!given) return [];
  const apps = parseAppList(given);
  if (!apps) {
    read.problems.push('ADDITIONAL_APPS must be a JSON array of {"appId","privateKey"}');
    return [];
  }
  return apps.map((app) => ({ json: SecretSource.fromValue(JSON.stringify(app)) }));
}

function parseAppList(text: string): { appId: string; privateKey: string }[] | undefined {
  try {
    const apps = JSON.parse(text) as unknown;
    const valid =
      Array.isArray(apps) &&
      apps.every(
        (app: { appId?: unknown; privateKey?: unknown } | null) =>
          (typeof app?.appId === 'string' || typeof app?.appId === 'number') &&
          typeof app.privateKey === 'string',
      );
    return valid ? (apps as { appId: string; privateKey: string }[]) : undefined;
  } catch {
    return undefined;
  }
}

/** github.com, or GitHub Enterprise Server at `GHE_HOST` (Probot's variable names). */
function gitHubUrls(read: EnvReader): Pick<BrokerConfig, 'apiBaseUrl' | 'webBaseUrl'> {
  const host = read.string('GHE_HOST');
  const protocol = read.oneOf('GHE_PROTOCOL', ['https', 'http'], 'https');
  if (!host) return { apiBaseUrl: 'https://api.github.com', webBaseUrl: 'https://github.com' };
  return { apiBaseUrl: `${protocol}://${host}/api/v3`, webBaseUrl: `${protocol}://${host}` };
}

/** True when the profile's runners each get a function version of their own. */
export function isVersioned(
  profile: RunnerProfile,
  config: Pick<BrokerConfig, 'isolation'>,
): boolean {
  return (
    (profile.executor ?? 'lambda') === 'lambda' &&
    (profile.isolation ?? config.isolation) === 'version'
  );
}
