import type { Logger } from 'pino';
import { recordBroker } from '../metrics';
import type { RunnerRequest } from '../runner-request';
import { parseJson } from '../json';
import type { JobState } from '../job-states';
import { isSealed, sealExpiry } from '../seal';
import { parseRunnerPayload, type RunnerPayload } from '../../runner/runner-payload';
import { BUILD_PAYLOAD_VARIABLE } from './executors';
import {
  dispatchJob,
  recordedState,
  targetOf,
  type BrokerDeps,
  type DispatchOutcome,
} from './dispatch-job';
import type { GitHubClient } from './github-client';
import {
  deleteRunner,
  findRunnerByName,
  getRunner,
  readJob,
  type RunnerState,
  type RunnerTarget,
} from './registration';

/** AWS's asynchronous-invocation destination record (on success and on failure alike). */
export interface DestinationRecord {
  readonly requestContext: { readonly condition?: string; readonly functionArn?: string };
  readonly requestPayload: unknown;
  /** Written by the runner, so by the job: read for logs, never for a decision. */
  readonly responsePayload?: unknown;
}

export interface SettleReport {
  readonly runnerName?: string;
  readonly registration: 'deleted' | 'busy' | 'gone' | 'untouched';
  readonly redispatch?: DispatchOutcome;
}

/**
 * A runner function ended (returned, threw, timed out, ran out of memory, or its event expired
 * before it ran). Acts on the payload the broker sealed itself and on GitHub's state, never on
 * the runner's response: deletes the runner's registration unless GitHub shows it busy, then,
 * if the job is still queued, dispatches it again under the next runner name, within the limit.
 *
 * A runner that went idle is no failure in itself: a JIT runner is not bound to its job, so
 * another runner with the same labels took the job, which is then no longer queued and gets
 * nothing more. The case where that does not hold (the job still queued after our runner gave
 * up, because GitHub had not assigned it yet) is caught by the same rule: the job waits, so it
 * gets another runner.
 */
export async function settleRunner(
  record: DestinationRecord,
  deps: BrokerDeps,
): Promise<SettleReport> {
  const condition = record.requestContext?.condition ?? 'unknown';
  return settlePayload(record.requestPayload, condition, 'destination record', deps);
}

/** The EventBridge event CodeBuild sends when a build changes state. */
export interface BuildStateChange {
  readonly source: 'aws.codebuild';
  readonly 'detail-type': typeof BUILD_STATE_CHANGE;
  readonly detail?: {
    readonly 'build-status'?: string;
    readonly 'project-name'?: string;
    readonly 'build-id'?: string;
    readonly 'additional-information'?: {
      readonly environment?: {
        readonly 'environment-variables'?: readonly {
          readonly name?: string;
          readonly value?: string;
        }[];
      };
    };
  };
}

export const BUILD_STATE_CHANGE = 'CodeBuild Build State Change';

/** Build states after which the build holds no runner any more. */
const BUILD_ENDED = ['SUCCEEDED', 'FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'];

/**
 * A CodeBuild build ended: settled as a runner function's end is, from the payload the broker
 * sealed into the build's variables and from GitHub's state, never from the build's own word
 * (its status is logged as the condition). A build still running is left alone.
 */
export async function settleBuild(
  event: BuildStateChange,
  deps: BrokerDeps,
): Promise<SettleReport> {
  const status = event.detail?.['build-status'] ?? 'unknown';
  if (!BUILD_ENDED.includes(status)) return { registration: 'untouched' };
  return settlePayload(buildPayload(event), `build ${status}`, 'build state change', deps);
}

/** The payload the build's variables carry, parsed (undefined when there is none). */
function buildPayload(event: BuildStateChange): unknown {
  const environment = event.detail?.['additional-information']?.environment;
  const carried = environment?.['environment-variables']?.find(
    (variable) => variable.name === BUILD_PAYLOAD_VARIABLE,
  );
  return parseJson(carried?.value);
}

async function settlePayload(
  value: unknown,
  condition: string,
  what: string,
  deps: BrokerDeps,
): Promise<SettleReport> {
  const payload = trustedPayload(value, deps);
  if (typeof payload === 'string') {
    deps.log.warn({ decision: 'refused', condition }, `${what} refused: ${payload}`);
    return { registration: 'untouched' };
  }
  const log = deps.log.child({
    deliveryId: payload.deliveryId,
    repository: `${payload.owner}/${payload.repo}`,
    jobId: payload.jobId,
    runnerName: payload.runnerName,
  });
  // The App that registered the runner looks it up and deletes it.
  const registrar = payload.registeredBy ?? { installationId: payload.installationId };
  const client = deps.github(registrar.installationId, registrar.appId);
  const target = targetOf(payload, deps.config);
  const recorded = await recordedState(payload, deps, log);
  if (recorded && recorded.status !== 'queued') {
    return settleFromDeliveries(payload, recorded, { client, target, condition, log, deps });
  }
  const registration = await removeUnlessBusy(client, target, payload, log);
  await retireVersion(payload, deps, log);
  const status = await jobOutcome(client, payload, { condition, registration, log, deps });
  if (status !== 'queued' || registration === 'busy') {
    return { runnerName: payload.runnerName, registration };
  }
  const redispatch = await dispatchJob(nextDispatch(payload), { ...deps, log }, status);
  if (redispatch === 'started') recordBroker(deps.metrics, 'Redispatches', condition);
  log.info({ decision: 'redispatch', outcome: redispatch }, 'job still queued: dispatched again');
  return { runnerName: payload.runnerName, registration, redispatch };
}

/**
 * The deliveries say the job is in progress or done, so it gets no other runner and GitHub is
 * not asked about it. The runner GitHub gave it to is an ephemeral one that GitHub removes once
 * the job is done: ours, when it was ours to finish, needs no call. Any other case (another
 * runner took the job, or ours ended while it ran) leaves our registration to look up and
 * delete unless busy.
 */
async function settleFromDeliveries(
  payload: RunnerPayload,
  recorded: JobState,
  context: { client: GitHubClient; target: RunnerTarget; condition: string } & {
    log: Logger;
    deps: BrokerDeps;
  },
): Promise<SettleReport> {
  const { client, target, condition, log, deps } = context;
  const finishedByOurs =
    recorded.status === 'completed' && recorded.runnerName === payload.runnerName;
  const registration = finishedByOurs
    ? 'gone'
    : await removeUnlessBusy(client, target, payload, log);
  await retireVersion(payload, deps, log);
  logSettled(recorded, { condition, registration, source: 'deliveries', log, deps });
  return { runnerName: payload.runnerName, registration };
}

/**
 * The job's outcome as GitHub reports it (its conclusion), never as the runner reported it:
 * logged with the settling, and counted (`JobsConcluded` by conclusion).
 */
async function jobOutcome(
  client: GitHubClient,
  payload: RunnerPayload,
  settled: { condition: string; registration: string; log: Logger; deps: BrokerDeps },
): Promise<string> {
  const job = await readJob(client, payload);
  logSettled(job, { ...settled, source: 'github' });
  return job.status;
}

/**
 * One line per settled runner, with the job's status and conclusion and where they were read
 * (GitHub, or the App's deliveries), and the conclusion counted (`JobsConcluded`).
 */
function logSettled(
  job: { status: string; conclusion?: string },
  settled: {
    condition: string;
    registration: string;
    source: string;
    log: Logger;
    deps: BrokerDeps;
  },
): void {
  const { condition, registration, source, log, deps } = settled;
  log.info(
    { condition, registration, jobStatus: job.status, jobConclusion: job.conclusion, source },
    'runner settled',
  );
  if (job.conclusion) recordBroker(deps.metrics, 'JobsConcluded', job.conclusion);
}

/** The runner's own version served its one job: it goes (the schedule sweeps any left). */
async function retireVersion(payload: RunnerPayload, deps: BrokerDeps, log: Logger) {
  const profile = deps.config.profiles.find((candidate) => candidate.name === payload.profile);
  if (!payload.functionVersion || !profile || !deps.environments) return;
  await deps.environments
    .release(profile.functionName, payload.functionVersion)
    .catch((error: unknown) =>
      log.warn({ err: error, version: payload.functionVersion }, 'could not delete the version'),
    );
}

/** The dispatch request for the job's next runner: the job's fields alone, one dispatch on. */
function nextDispatch(payload: RunnerPayload): RunnerRequest {
  const job: Partial<RunnerPayload & { mac: string; sealedAt: number }> = { ...payload };
  for (const field of [
    'runnerName',
    'runnerId',
    'credential',
    'functionVersion',
    'registeredBy',
    'sealedAt',
    'mac',
  ] as const)
    delete job[field];
  return {
    ...(job as Omit<RunnerRequest, 'kind'>),
    kind: 'dispatch',
    dispatch: payload.dispatch + 1,
  };
}

/** The payload the broker sealed, or why the record is refused. */
function trustedPayload(value: unknown, deps: BrokerDeps): RunnerPayload | string {
  if (!isSealed(value, deps.sealKey)) return 'the payload is not one the broker sealed';
  const expired = sealExpiry(value, deps.config.runnerEventLifetimeMs);
  if (expired) return expired;
  try {
    return parseRunnerPayload(value);
  } catch {
    return 'the payload is not one the broker sealed';
  }
}

async function removeUnlessBusy(
  client: GitHubClient,
  target: RunnerTarget,
  payload: RunnerPayload,
  log: Logger,
): Promise<SettleReport['registration']> {
  const runner: RunnerState | undefined =
    payload.runnerId !== undefined
      ? await getRunner(client, target, payload.runnerId)
      : await findRunnerByName(client, target, payload.runnerName);
  // Its name must be the one the broker gave: an id is never trusted alone.
  if (!runner || runner.name !== payload.runnerName) return 'gone';
  if (runner.busy) return 'busy';
  await deleteRunner(client, target, runner.id);
  log.info({ runnerId: runner.id }, 'runner registration deleted');
  return 'deleted';
}
