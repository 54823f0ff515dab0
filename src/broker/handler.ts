import pino, { type Logger } from 'pino';
import { createAwsClients, type AwsClients } from '../aws-clients';
import type { Env } from '../env';
import { createMetrics, type Metrics } from '../metrics';
import { parseRunnerRequest } from '../runner-request';
import { deriveSealKey, isSealed, sealExpiry, withoutMac } from '../seal';
import { shapeProblem } from './event-shape';
import { handleQueueEvent, isQueueEvent } from './queue-events';
import { sqsDeadLetters, type DeadLetters } from './dead-letters';
import { redeliverFailed } from './redeliver';
import { replayDeadLetters } from './replay-dead-letters';
import { resolveAppCredentials, type AppCredentials } from './app-credentials';
import { createAppTurns } from './apps';
import { checkRunnerCurrency, isDailyRun } from './runner-currency';
import { isVersioned, loadBrokerConfig, type BrokerConfig } from './config';
import { createEnvironmentPool, type EnvironmentPool } from './environments';
import { dispatchJob } from './dispatch-job';
import { dynamoControlTable } from './control-table';
import { dynamoJobStates } from '../job-states';
import { createCodeBuildExecutor, createLambdaExecutor, type Executors } from './executors';
import { createAppClient, createGitHubClients } from './github-client';
import { sweepRunners } from './janitor';
import { createPace } from './pace';
import {
  BUILD_STATE_CHANGE,
  settleBuild,
  settleRunner,
  type BuildStateChange,
  type DestinationRecord,
} from './settle-runner';

export interface BrokerOptions {
  readonly env?: Env;
  readonly config?: BrokerConfig;
  readonly clients?: Partial<Pick<AwsClients, 'sqs' | 'dynamodb' | 'codebuild'>> &
    Pick<AwsClients, 'lambda' | 'secretsManager'>;
  /** Where the broker's failed events wait; by default its SQS queue (`BROKER_DLQ_URL`). */
  readonly deadLetters?: DeadLetters;
  readonly log?: Logger;
  /** Executor kinds; by default `lambda` (the runner functions). Local mode adds its own. */
  readonly executors?: Executors;
  readonly retryAfterBaseValue?: number;
  readonly metrics?: Metrics;
  /** The clock the version pool waits on (Lambda's control plane); real time by default. */
  readonly controlPlaneClock?: { now(): number; sleep(ms: number): Promise<void> };
  /** The clock GitHub's rate-limit waits run on (the shared pace); real time by default. */
  readonly rateLimitClock?: { now(): number; sleep(ms: number): Promise<void> };
  /** How the broker's requests reach GitHub (a simulation's GitHub); fetch by default. */
  readonly fetch?: typeof fetch;
}

/** GitHub cancels a job that waited 24 hours: a dispatch request older than that serves none. */
const DISPATCH_LIFETIME_MS = 24 * 3600_000;

type BrokerEvent = 'dispatch' | 'destination' | 'build' | 'schedule' | 'unknown';

/**
 * Which event this is: the broker's own JSON, AWS's destination record, CodeBuild's build state
 * change (EventBridge), or the schedule.
 */
export function kindOf(event: unknown): BrokerEvent {
  if (typeof event !== 'object' || event === null) return 'unknown';
  const fields = event as Record<string, unknown>;
  if (fields.kind === 'dispatch') return 'dispatch';
  if ('requestContext' in fields && 'requestPayload' in fields) return 'destination';
  return eventBridgeKind(fields);
}

/** CodeBuild's build state change, or the schedule: EventBridge's two events for the broker. */
function eventBridgeKind(fields: Record<string, unknown>): BrokerEvent {
  if (fields.source === 'aws.codebuild' && fields['detail-type'] === BUILD_STATE_CHANGE)
    return 'build';
  if (fields['detail-type'] === 'Scheduled Event' || fields.source === 'aws.events')
    return 'schedule';
  return 'unknown';
}

/**
 * Builds the broker: the control plane's only holder of the App's private key. The App
 * credentials, the seal key and the GitHub clients are set up once per container. A dispatch
 * request must carry the webhook's seal; a destination record is settled from the payload the
 * broker sealed; the schedule removes orphan registrations. A GitHub failure is thrown, so
 * Lambda retries the event and then keeps it in the dead-letter queue.
 */
export function createBrokerHandler(options: BrokerOptions = {}) {
  const env = options.env ?? process.env;
  // Configuration is read on the first event, so importing the bundle never throws.
  let log = options.log ?? pino({ level: 'info' });
  const clients = options.clients ?? createAwsClients();
  let ready: Promise<Ready> | undefined;
  const getReady = () => {
    ready ??= Promise.resolve()
      .then(() => {
        const config = options.config ?? loadBrokerConfig(env);
        if (!options.log) log = pino({ level: config.logLevel });
        return prepare(config, clients, log, options);
      })
      .catch((error: unknown) => {
        ready = undefined; // a failed secret read is retried by the next event
        throw error;
      });
    return ready;
  };
  return async (event: unknown, context?: { invokedFunctionArn?: string }): Promise<unknown> => {
    if (isQueueEvent(event)) {
      const deps = await getReady();
      const sqs = clients.sqs;
      return handleQueueEvent(event, (body) => fromQueue(deps, body), {
        log: deps.log,
        queueUrls: deps.config.queueUrls,
        ...(sqs ? { sqs } : {}),
      });
    }
    const kind = screen(event, log);
    if (!kind) return { result: 'refused' };
    const deps = await getReady();
    return act(deps, kind, event, () => scheduleFromAlias(deps, event, context));
  };
}

/** What the broker does with an event of each kind; the schedule as its path allows. */
function act(
  deps: Ready,
  kind: Exclude<BrokerEvent, 'unknown'>,
  event: unknown,
  schedule: () => Promise<unknown>,
): Promise<unknown> {
  if (kind === 'destination') return settleRunner(event as DestinationRecord, deps);
  if (kind === 'build') return settleBuild(event as BuildStateChange, deps);
  if (kind === 'schedule') return schedule();
  return dispatchSealed(deps, event);
}

/**
 * One message of the settle queue: a runner's destination record or a build's state change
 * (the queue's senders: Lambda with the runner role, and EventBridge), or a dispatch request.
 * Anyone holding the runner role may send to it, so each is checked as an invoke would be; the
 * schedule never comes this way.
 */
async function fromQueue(deps: Ready, body: unknown): Promise<unknown> {
  const kind = screen(body, deps.log);
  if (!kind) return { result: 'refused' };
  return act(deps, kind, body, async () => {
    deps.log.warn({ decision: 'refused' }, 'schedule event refused: it came through a queue');
    return { result: 'refused' };
  });
}

/** The event's kind, once its shape passed; undefined (and a log line) when refused. */
function screen(event: unknown, log: Logger): Exclude<BrokerEvent, 'unknown'> | undefined {
  const problem = shapeProblem(event);
  if (problem) {
    log.warn({ decision: 'refused', problem }, `broker event refused: ${problem}`);
    return undefined;
  }
  const kind = kindOf(event);
  if (kind !== 'unknown') return kind;
  log.warn(
    { decision: 'refused' },
    'broker event refused: not a dispatch, destination, build state change or schedule',
  );
  return undefined;
}

/** The schedule's tasks, for an event that came through the schedule's alias. */
async function scheduleFromAlias(
  deps: Ready,
  event: unknown,
  context?: { invokedFunctionArn?: string },
) {
  const alias = deps.config.scheduleAlias;
  if (alias && !context?.invokedFunctionArn?.endsWith(`:${alias}`)) {
    deps.log.warn(
      { decision: 'refused', invokedFunctionArn: context?.invokedFunctionArn },
      "schedule event refused: it did not come through the schedule's alias",
    );
    return { result: 'refused' };
  }
  return schedule(deps, event);
}

/** A dispatch request the webhook sealed, not too old: its job gets a runner if it waits. */
async function dispatchSealed(deps: Ready, event: unknown) {
  if (!isSealed(event, deps.sealKey)) {
    deps.log.warn(
      { decision: 'refused' },
      'dispatch request refused: it does not carry the webhook seal',
    );
    return { result: 'refused' };
  }
  const expired = sealExpiry(event, DISPATCH_LIFETIME_MS);
  if (expired) {
    deps.log.warn(
      { decision: 'refused', problem: expired },
      `dispatch request refused: ${expired}`,
    );
    return { result: 'refused' };
  }
  return { result: await dispatchJob(parseRunnerRequest(withoutMac(event)), deps) };
}

async function prepare(
  config: BrokerConfig,
  clients: NonNullable<BrokerOptions['clients']>,
  log: Logger,
  options: BrokerOptions,
) {
  const [credentials, secret, additional] = await Promise.all([
    resolveAppCredentials(config.appCredentials, clients.secretsManager),
    config.webhookSecret.resolve(clients.secretsManager),
    Promise.all(
      config.additionalApps.map((app) => resolveAppCredentials(app, clients.secretsManager)),
    ),
  ]);
  const github = {
    credentials,
    baseUrl: config.apiBaseUrl,
    log,
    retryAfterBaseValue: options.retryAfterBaseValue,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...sharedPace(config, clients, log, options.rateLimitClock),
  };
  return {
    config,
    log,
    ...heldApps(github, additional, log),
    app: createAppClient(github),
    executors: options.executors ?? defaultExecutors(clients),
    sealKey: deriveSealKey(secret),
    groupIds: new Map<string, number>(),
    metrics: options.metrics ?? createMetrics('broker'),
    ...controlStores(config, clients),
    environments: environmentPool(config, clients, log, options.controlPlaneClock),
    deadLetters:
      options.deadLetters ??
      (config.deadLetterQueueUrl && clients.sqs
        ? sqsDeadLetters({ sqs: clients.sqs, queueUrl: config.deadLetterQueueUrl })
        : undefined),
  };
}

type Ready = Awaited<ReturnType<typeof prepare>>;

/**
 * The installation clients of every App the stage holds (the first, and any more), and the
 * turns they take registering runners when there is more than one.
 */
function heldApps(
  options: Parameters<typeof createGitHubClients>[0],
  additional: readonly AppCredentials[],
  log: Logger,
) {
  const first = createGitHubClients(options);
  const others = new Map(
    additional.map((credentials) => [
      credentials.appId,
      { clients: createGitHubClients({ ...options, credentials }), credentials },
    ]),
  );
  const github = (installationId: number, appId?: string) =>
    (others.get(appId ?? '')?.clients ?? first)(installationId);
  if (others.size === 0) return { github };
  const apps = [...others.values()].map(({ credentials }) => ({
    appId: credentials.appId,
    app: createAppClient({ ...options, credentials }),
  }));
  return { github, appTurns: createAppTurns({ additional: apps, log }) };
}

/** The control table's start counts and job states (none without the table: local mode). */
function controlStores(config: BrokerConfig, clients: NonNullable<BrokerOptions['clients']>) {
  if (!config.controlTable || !clients.dynamodb) return {};
  const table = { dynamodb: clients.dynamodb, tableName: config.controlTable };
  return { control: dynamoControlTable(table), jobStates: dynamoJobStates(table) };
}
type CodeBuildSend = NonNullable<AwsClients['codebuild']>['send'];

/** Runner functions, and CodeBuild projects where the broker has a CodeBuild client. */
function defaultExecutors(clients: NonNullable<BrokerOptions['clients']>): Executors {
  const lambda = createLambdaExecutor({ lambda: clients.lambda });
  if (!('codebuild' in clients)) return { lambda };
  // The client (and its SDK package) loads on the first build, not at every cold start.
  const codebuild = { send: ((command) => clients.codebuild!.send(command)) as CodeBuildSend };
  return { lambda, codebuild: createCodeBuildExecutor({ codebuild }) };
}

/** One pace for every container: the control table holds each caller's window (see pace.ts). */
function sharedPace(
  config: BrokerConfig,
  clients: NonNullable<BrokerOptions['clients']>,
  log: Logger,
  clock: BrokerOptions['rateLimitClock'],
) {
  const pace = createPace({
    ...(config.controlTable && clients.dynamodb
      ? { dynamodb: clients.dynamodb, tableName: config.controlTable }
      : {}),
    log,
    maxWaitMs: config.rateLimitMaxSleepMs,
    pointsPerMinute: config.pointsPerMinute,
    ...(clock ? { now: clock.now, sleep: clock.sleep } : {}),
  });
  return { pace, ...(clock ? { now: clock.now } : {}) };
}

/** The version pool, when some profile runs each job in a version of its own. */
function environmentPool(
  config: BrokerConfig,
  clients: NonNullable<BrokerOptions['clients']>,
  log: Logger,
  clock: BrokerOptions['controlPlaneClock'],
): EnvironmentPool | undefined {
  const versioned = config.profiles.some((profile) => isVersioned(profile, config));
  if (!versioned || !config.controlTable || !clients.dynamodb) return undefined;
  return createEnvironmentPool({
    lambda: clients.lambda,
    dynamodb: clients.dynamodb,
    tableName: config.controlTable,
    size: config.environmentPoolSize,
    deployment: config.deployment,
    lifetimeMs: config.runnerEventLifetimeMs,
    log,
    ...(clock ? { now: clock.now, sleep: clock.sleep } : {}),
  });
}

/** Each versioned profile's leaked versions deleted, and its fresh ones published. */
async function tendEnvironments(deps: Ready) {
  const report: Record<string, { deleted: number; published: number }> = {};
  if (!deps.environments) return report;
  for (const profile of deps.config.profiles.filter((p) => isVersioned(p, deps.config))) {
    const { deleted } = await deps.environments.sweep(profile.functionName);
    const published = await deps.environments.refill(profile.functionName);
    report[profile.name] = { deleted, published };
  }
  return report;
}

/**
 * The schedule: orphan registrations, failed webhook deliveries, dead letters, and once a day
 * the runner release's currency. Each task runs
 * even when another fails; a failure is logged and makes the run fail (for its alarm).
 */
async function schedule(deps: Ready, event: unknown) {
  const runnerVersion = deps.config.runnerVersion;
  const daily =
    runnerVersion && isDailyRun(event)
      ? {
          runnerRelease: () =>
            checkRunnerCurrency({
              runnerVersion,
              profiles: deps.config.profiles,
              releasesApiUrl: deps.config.releasesApiUrl,
              metrics: deps.metrics,
              log: deps.log,
              now: Date.now(),
            }),
        }
      : {};
  const tasks = {
    ...daily,
    orphans: () =>
      sweepRunners({
        app: deps.app,
        installation: deps.github,
        scope: deps.config.scope,
        graceMs: deps.config.janitorGraceMs,
        maxCalls: deps.config.janitorMaxCalls,
        log: deps.log,
      }),
    redeliveries: () =>
      redeliverFailed({
        app: deps.app,
        windowMs: deps.config.redeliveryWindowMs,
        maxAttempts: deps.config.redeliveryMaxAttempts,
        maxCalls: deps.config.redeliveryMaxCalls,
        maxRedeliveries: deps.config.redeliveriesPerRun,
        log: deps.log,
        metrics: deps.metrics,
      }),
    environments: () => tendEnvironments(deps),
    replays: async () =>
      deps.deadLetters
        ? replayDeadLetters(deps.deadLetters, {
            ...deps,
            maxReplays: deps.config.maxReplays,
            maxLetters: 50,
          })
        : { replayed: 0, requeued: 0, dropped: 0 },
  };
  const report: Record<string, unknown> = {};
  const failures: string[] = [];
  for (const [name, task] of Object.entries(tasks)) {
    try {
      report[name] = await task();
    } catch (error) {
      failures.push(name);
      deps.log.error({ err: error, task: name }, 'scheduled task failed');
    }
  }
  deps.log.info({ ...report, failures }, 'schedule finished');
  if (failures.length > 0)
    throw new Error(`lambda-runner: scheduled tasks failed: ${failures.join(', ')}`);
  return report;
}
