import type { Logger } from 'pino';
import { recordBroker, type Metrics } from '../metrics';
import type { RunnerProfile } from '../profiles';
import type { RunnerRequest } from '../runner-request';
import type { JobState, JobStates } from '../job-states';
import { seal } from '../seal';
import type { RunnerCredential, RunnerPayload } from '../../runner/runner-payload';
import { isVersioned, type BrokerConfig } from './config';
import type { EnvironmentPool } from './environments';
import type { AppTurns, Registrar } from './apps';
import type { ControlTable } from './control-table';
import { DuplicateRunnerError } from './errors';
import { executorFor, type Executors } from './executors';
import type { GitHubClient } from './github-client';
import { registeredAt, registeredLabel } from './janitor';
import {
  createRegistrationToken,
  deleteRunner,
  findRunnerByName,
  findRunnerGroupId,
  generateJitConfig,
  readJobStatus,
  type RunnerTarget,
} from './registration';

export type DispatchOutcome = 'started' | 'not-queued' | 'duplicate' | 'limit' | 'no-profile';

export interface BrokerDeps {
  readonly config: BrokerConfig;
  /** An installation's client, of the stage's first App or (by id) of another it holds. */
  readonly github: (installationId: number, appId?: string) => GitHubClient;
  /** Which App registers each job's runner, when the stage holds more than one. */
  readonly appTurns?: AppTurns;
  readonly executors: Executors;
  readonly sealKey: Buffer;
  readonly log: Logger;
  /** Runner group ids by org, looked up once per container. */
  readonly groupIds?: Map<string, number>;
  /** Where the broker's figures are counted (CloudWatch EMF). */
  readonly metrics?: Metrics;
  /** The stack's control table: runner starts per job attempt (absent in local mode). */
  readonly control?: ControlTable;
  /** Runner function versions, one per runner (isolation `version`). */
  readonly environments?: EnvironmentPool;
  /** Our jobs' states as the App's deliveries told them (the control table; none locally). */
  readonly jobStates?: JobStates;
}

/** The runner's name on GitHub: one per job, attempt and dispatch, so a replay gets 409. */
export function runnerName(request: Pick<RunnerRequest, 'jobId' | 'runAttempt' | 'dispatch'>) {
  return `lambda-${request.jobId}-${request.runAttempt}-${request.dispatch}`;
}

/**
 * Starts one runner for a job that still waits: checks the job is queued, registers a runner
 * for it (a JIT config, or a registration token in token mode) and hands that one-use
 * credential to the profile's executor. Nothing happens past the dispatch limit, for a job no
 * longer queued, or for a runner name GitHub already has (409: another dispatch serves it).
 * A registration whose start failed is deleted before the error goes up.
 */
export async function dispatchJob(
  request: RunnerRequest,
  deps: BrokerDeps,
  knownStatus?: string,
): Promise<DispatchOutcome> {
  const name = runnerName(request);
  const log = deps.log.child({
    jobId: request.jobId,
    runnerName: name,
    dispatch: request.dispatch,
  });
  const profile = deps.config.profiles.find((candidate) => candidate.name === request.profile);
  const refusal = refuse(request, profile, deps.config.maxDispatches);
  if (refusal) {
    log.warn({ decision: refusal }, `no runner: ${refusal}`);
    return refusal;
  }
  const target = targetOf(request, deps.config);
  const registrar = await registrarOf(request, target, deps);
  const client = deps.github(registrar.installationId, registrar.appId);
  const { status, source } = await jobStatus(request, client, deps, knownStatus);
  if (status !== 'queued') {
    log.info({ decision: 'not-queued', status, source }, `no runner: the job is ${status}`);
    return 'not-queued';
  }
  if (deps.control && !(await deps.control.countStart(request, deps.config.maxDispatches))) {
    log.warn({ decision: 'limit' }, 'no runner: this job attempt has had all its runners');
    return 'limit';
  }
  const context = { client, target, registrar, log, deps };
  return startOnce(request, name, profile as RunnerProfile, context);
}

/**
 * Where the job stands, read once per dispatch: as the caller just read it from GitHub, else as
 * the App's deliveries recorded it in the table, else (the table knows nothing, or cannot be
 * read) from GitHub.
 */
async function jobStatus(
  job: RunnerRequest,
  client: GitHubClient,
  deps: BrokerDeps,
  knownStatus: string | undefined,
): Promise<{ status: string; source: 'github' | 'deliveries' }> {
  if (knownStatus) return { status: knownStatus, source: 'github' };
  const recorded = await recordedState(job, deps, deps.log);
  if (recorded) return { status: recorded.status, source: 'deliveries' };
  return { status: await readJobStatus(client, job), source: 'github' };
}

/**
 * The job's state as its deliveries recorded it, or undefined: none recorded, or the table could
 * not be read (logged; GitHub is asked instead).
 */
export async function recordedState(
  job: Pick<RunnerRequest, 'owner' | 'repo' | 'jobId'>,
  deps: Pick<BrokerDeps, 'jobStates'>,
  log: Logger,
): Promise<JobState | undefined> {
  return deps.jobStates?.read(job).catch((error: unknown) => {
    log.warn(
      { err: error, jobId: job.jobId },
      "could not read the job's recorded state: asking GitHub",
    );
    return undefined;
  });
}

/**
 * Registers and starts the runner; a 409 whose registration a dead broker left is reclaimed
 * once. A start that fails is not counted against the job's dispatches.
 */
async function startOnce(
  request: RunnerRequest,
  name: string,
  profile: RunnerProfile,
  context: StartContext,
): Promise<DispatchOutcome> {
  const { log, deps } = context;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await registerAndStart(request, name, profile, context);
      return 'started';
    } catch (error) {
      if (attempt === 1 && (await reclaimedStale(error, name, context))) continue;
      await deps.control
        ?.uncountStart(request)
        .catch((uncount: unknown) => log.error({ err: uncount }, 'could not take the start back'));
      if (!(error instanceof DuplicateRunnerError)) throw error;
      log.info({ decision: 'duplicate' }, 'no runner: GitHub already has a runner by this name');
      return 'duplicate';
    }
  }
}

/** Registers the runner, places it (a version of its own, for isolation `version`) and starts it. */
async function registerAndStart(
  request: RunnerRequest,
  name: string,
  profile: RunnerProfile,
  context: StartContext,
): Promise<void> {
  const { client, target, log, deps } = context;
  const registered = await register(request, name, target, client, deps);
  const placed = await place(profile, name, registered, context);
  const payload = seal<RunnerPayload>(
    {
      ...request,
      kind: 'runner',
      runnerName: name,
      scope: target.scope,
      ...(context.registrar.appId ? { registeredBy: context.registrar } : {}),
      ...registered,
      ...placed,
    },
    deps.sealKey,
  );
  await start(payload, profile, context);
  await refill(profile, placed, log, deps);
  logStarted(request, registered.runnerId, log, deps);
}

/**
 * How long a broker may take from registering a runner to starting it. A runner by this job's
 * name that is older, offline and idle was registered by a broker that died before the start
 * (a timeout, a crash): Lambda retries that event a minute or more later.
 */
export const START_GRACE_MS = 60_000;

/**
 * On a 409, looks the runner up: one that no listener ever used, registered past the start
 * grace, is deleted so the job gets its runner after all. A runner that is busy, online or
 * young belongs to another dispatch, and the 409 stands. True when one was deleted.
 */
async function reclaimedStale(error: unknown, name: string, context: StartContext) {
  if (!(error instanceof DuplicateRunnerError)) return false;
  const { client, target, log } = context;
  const runner = await findRunnerByName(client, target, name);
  const registered = runner ? registeredAt(runner) : undefined;
  const age = registered === undefined ? 0 : Date.now() - registered;
  if (!runner || runner.busy || runner.status !== 'offline' || age < START_GRACE_MS) return false;
  await deleteRunner(client, target, runner.id);
  log.warn(
    { runnerId: runner.id, ageMs: age },
    'a registration no runner ever used (its broker died before the start): deleted, registering again',
  );
  return true;
}

function logStarted(
  request: RunnerRequest,
  runnerId: number | undefined,
  log: Logger,
  deps: BrokerDeps,
): void {
  const waitingMs = request.jobCreatedAt ? Date.now() - Date.parse(request.jobCreatedAt) : NaN;
  recordBroker(
    deps.metrics,
    'JobsWaitingMs',
    request.dispatch > 1 ? 'redispatch' : 'first',
    waitingMs,
  );
  log.info({ decision: 'started', runnerId, waitingMs }, 'runner started');
}

function refuse(
  request: RunnerRequest,
  profile: RunnerProfile | undefined,
  maxDispatches: number,
): DispatchOutcome | undefined {
  if (!profile) return 'no-profile';
  if (request.dispatch > maxDispatches) return 'limit';
  return undefined;
}

/** Where the job's runner registers: the request's scope (from its profile), else the default. */
export function targetOf(
  request: Pick<RunnerRequest, 'scope' | 'owner' | 'repo'>,
  config: BrokerConfig,
): RunnerTarget {
  return { scope: request.scope ?? config.scope, owner: request.owner, repo: request.repo };
}

async function register(
  request: RunnerRequest,
  name: string,
  target: RunnerTarget,
  client: GitHubClient,
  deps: BrokerDeps,
): Promise<{ credential: RunnerCredential; runnerId?: number }> {
  const labels = [...request.labels, registeredLabel()];
  if (deps.config.registration === 'token') {
    const token = await createRegistrationToken(client, target);
    const path = target.scope === 'org' ? target.owner : `${target.owner}/${target.repo}`;
    const group = target.scope === 'org' ? (request.group ?? deps.config.group) : undefined;
    return { credential: { token, url: `${deps.config.webBaseUrl}/${path}`, group } };
  }
  const groupId = await groupIdFor(request, target, client, deps);
  const { runnerId, jitConfig } = await generateJitConfig(client, target, {
    name,
    labels,
    groupId,
    workFolder: '_work',
  });
  return { credential: { jitConfig }, runnerId };
}

async function groupIdFor(
  request: RunnerRequest,
  target: RunnerTarget,
  client: GitHubClient,
  deps: BrokerDeps,
): Promise<number> {
  const group = request.group ?? deps.config.group;
  const key = `${target.scope}:${target.owner}:${group}`.toLowerCase();
  const cached = deps.groupIds?.get(key);
  if (cached !== undefined) return cached;
  const id = await findRunnerGroupId(client, target, group);
  deps.groupIds?.set(key, id);
  return id;
}

type StartContext = {
  client: GitHubClient;
  target: RunnerTarget;
  registrar: Registrar;
  log: Logger;
  deps: BrokerDeps;
};

/** The App and installation that register this job's runner (the delivery's, with one App). */
function registrarOf(request: RunnerRequest, target: RunnerTarget, deps: BrokerDeps) {
  return deps.appTurns
    ? deps.appTurns.registrarFor(request, target)
    : Promise.resolve<Registrar>({ installationId: request.installationId });
}

/**
 * Where the runner runs: for isolation `version`, a version of the profile's function that no
 * other event reaches. If none can be had, the registration is deleted before the error goes up.
 */
async function place(
  profile: RunnerProfile,
  name: string,
  registered: { runnerId?: number },
  context: StartContext,
): Promise<{ functionVersion?: string }> {
  const { deps } = context;
  if (!isVersioned(profile, deps.config)) return {};
  if (!deps.environments)
    throw new Error(
      `lambda-runner: profile "${profile.name}" needs isolation, and no pool is set up`,
    );
  try {
    return { functionVersion: await deps.environments.claim(profile.functionName, name) };
  } catch (error) {
    await forget(registered.runnerId, context);
    throw error;
  }
}

/** Publishes the versions the next dispatches will claim; a failure only costs them time. */
async function refill(
  profile: RunnerProfile,
  placed: { functionVersion?: string },
  log: Logger,
  deps: BrokerDeps,
): Promise<void> {
  if (!placed.functionVersion) return;
  await deps.environments
    ?.refill(profile.functionName)
    .catch((error: unknown) => log.warn({ err: error }, 'could not publish fresh environments'));
}

async function forget(runnerId: number | undefined, context: StartContext): Promise<void> {
  if (runnerId === undefined) return;
  await deleteRunner(context.client, context.target, runnerId).catch((cleanup: unknown) =>
    context.log.error({ err: cleanup }, 'could not delete the registration of a failed start'),
  );
}

/** Hands the payload to the executor; on failure, deletes the registration nobody will use. */
async function start(
  payload: Parameters<ReturnType<typeof executorFor>>[0],
  profile: RunnerProfile,
  context: StartContext,
): Promise<void> {
  try {
    await executorFor(context.deps.executors, profile)(payload, profile);
  } catch (error) {
    await forget(payload.runnerId, context);
    if (payload.functionVersion)
      await context.deps.environments
        ?.release(profile.functionName, payload.functionVersion)
        .catch((cleanup: unknown) =>
          context.log.error({ err: cleanup }, 'could not delete the version of a failed start'),
        );
    throw error;
  }
}
