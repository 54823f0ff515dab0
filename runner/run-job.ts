import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Env } from '../src/env';
import { recordRunner, type Metrics, type RunnerFigures } from '../src/metrics';
import type { RunnerRequest } from '../src/runner-request';
import { cleanUp } from './clean-up';
import type { RunnerConfig } from './config';
import { DuplicateRunnerError } from './errors';
import type { GitHubClient } from './github-client';
import type { JobContext, Registration } from './job-context';
import { jobEnvironment } from './job-environment';
import { jobWorkspace, type JobWorkspace } from './job-workspace';
import { runListener, type ListenerRun } from './listener';
import { readJobStatus } from './registration';
import { registerRunner } from './register-runner';
import { uptimeSeconds } from './sweep-processes';

export type RunnerOutcome =
  'completed' | 'idle' | 'deadline' | 'not-queued' | 'duplicate' | 'failed';

export interface RunnerResult {
  readonly runnerName: string;
  readonly registration: 'jit' | 'token';
  readonly outcome: RunnerOutcome;
  readonly exitCode: number | null;
  readonly jobResult?: string;
  readonly error?: string;
  readonly registrationDeleted: boolean;
  readonly processesKilled: number;
  readonly timings: {
    toListeningMs?: number;
    toJobMs?: number;
    jobDurationMs?: number;
    totalMs: number;
  };
}

export interface RunJobDeps {
  readonly config: RunnerConfig;
  readonly github: (installationId: number) => GitHubClient;
  readonly log: Logger;
  readonly env?: Env;
  /** Credentials for the job in place of the function's own (the job role), if any. */
  readonly jobCredentials?: (sessionName: string) => Promise<Record<string, string>>;
  /** Where the runner's outcome and timings are counted (CloudWatch EMF). */
  readonly metrics?: Metrics;
  /** The last `x-ratelimit-remaining` GitHub answered. */
  readonly rateLimit?: () => number | undefined;
  /** Runner group ids by org, looked up once per container. */
  readonly groupIds?: Map<string, number>;
}

/** The runner's name on GitHub: one per job and attempt, so a second start for a job gets 409. */
export function runnerName(request: Pick<RunnerRequest, 'jobId' | 'runAttempt'>): string {
  return `lambda-${request.jobId}-${request.runAttempt}`;
}

/**
 * Serves one job with one ephemeral runner: checks the job still waits, registers the runner
 * (JIT config or registration token) while laying out its root, runs the listener until the job
 * ends, the idle timeout or the deadline, and then, whatever happened, deletes a registration
 * the runner did not consume, kills what the job left running and wipes its files.
 */
export async function runJob(
  request: RunnerRequest,
  deadline: number,
  deps: RunJobDeps,
): Promise<RunnerResult> {
  const started = Date.now();
  const name = runnerName(request);
  const log = deps.log.child({
    deliveryId: request.deliveryId,
    repository: `${request.owner}/${request.repo}`,
    jobId: request.jobId,
    runId: request.runId,
    attempt: request.runAttempt,
    runnerName: name,
    profile: request.profile,
  });
  const attempt = await serve(request, deadline, { ...deps, log, name });
  const result: RunnerResult = {
    runnerName: name,
    registration: deps.config.registration,
    registrationDeleted: false,
    processesKilled: 0,
    ...attempt,
    timings: timings(started, attempt.run),
  };
  log.info(
    {
      outcome: result.outcome,
      exitCode: result.exitCode,
      jobResult: result.jobResult,
      error: result.error,
      registrationDeleted: result.registrationDeleted,
      processesKilled: result.processesKilled,
      timings: result.timings,
    },
    `runner ${result.outcome}`,
  );
  recordRunner(deps.metrics, runnerFigures(request, result, started, deps.rateLimit?.()));
  return result;
}

type Attempt = Omit<
  RunnerResult,
  'runnerName' | 'registration' | 'timings' | 'registrationDeleted' | 'processesKilled'
> &
  Partial<Pick<RunnerResult, 'registrationDeleted' | 'processesKilled'>> & { run?: ListenerRun };

async function serve(
  request: RunnerRequest,
  deadline: number,
  deps: RunJobDeps & { name: string },
): Promise<Attempt> {
  if (deadline <= Date.now())
    return {
      outcome: 'deadline',
      exitCode: null,
      error: 'no time left before the Lambda deadline',
    };
  const client = deps.github(request.installationId);
  const status = await readJobStatus(client, request);
  if (status === undefined) deps.log.warn('job status unknown; starting a runner anyway');
  else if (status !== 'queued')
    return { outcome: 'not-queued', exitCode: null, error: `job is ${status}` };

  const { config } = deps;
  const ids = invocationIds(config.workRoot, deps.name);
  const context: JobContext = {
    ...deps,
    ...ids,
    client,
    target: { scope: request.scope ?? config.scope, owner: request.owner, repo: request.repo },
    sweepSince: config.ownsContainer ? await uptimeSeconds() : undefined,
    env: jobEnvironment(deps.env ?? process.env, ids.workspace, ids.tag),
  };
  const held: { registration?: Registration } = {};
  const run = await registerAndListen(request, deadline, context, held).catch(
    (error: unknown) => error as Error,
  );
  const cleanup = await cleanUp(context, held.registration, run instanceof Error ? undefined : run);
  return { ...cleanup, ...describe(run, deps.log) };
}

/**
 * Registers the runner and runs its listener. The job role's credentials are only needed by the
 * listener, so the role is assumed while GitHub registers the runner and the root is laid out.
 */
async function registerAndListen(
  request: RunnerRequest,
  deadline: number,
  context: JobContext,
  held: { registration?: Registration },
): Promise<ListenerRun> {
  const credentials = context.jobCredentials?.(context.name);
  credentials?.catch(() => undefined); // awaited below, once the runner is registered
  const registration = await registerRunner(request, context, held);
  const env = { ...context.env, ...(await credentials) };
  return listen(registration, deadline, { ...context, env });
}

function describe(run: ListenerRun | Error, log: Logger): Attempt {
  if (run instanceof DuplicateRunnerError)
    return { outcome: 'duplicate', exitCode: null, error: run.message };
  if (run instanceof Error) return { outcome: 'failed', exitCode: null, error: run.message };
  if (run.outcome === 'deadline') log.error('the job hit the Lambda time limit and was stopped');
  return { outcome: run.outcome, exitCode: run.exitCode, jobResult: run.jobResult, run };
}

function runnerFigures(
  request: RunnerRequest,
  result: RunnerResult,
  started: number,
  rateLimitRemaining?: number,
): RunnerFigures {
  const created = request.jobCreatedAt ? Date.parse(request.jobCreatedAt) : NaN;
  const since = (offset?: number) =>
    offset === undefined ? undefined : started + offset - created;
  return {
    outcome: result.outcome,
    exitCode: result.exitCode,
    sinceCreatedToListeningMs: since(result.timings.toListeningMs),
    sinceCreatedToJobMs: since(result.timings.toJobMs),
    jobDurationMs: result.timings.jobDurationMs,
    rateLimitRemaining,
    metadata: {
      jobId: request.jobId,
      runnerName: result.runnerName,
      deliveryId: request.deliveryId,
      profile: request.profile,
    },
  };
}

function invocationIds(workRoot: string, name: string): { workspace: JobWorkspace; tag: string } {
  const tag = randomUUID();
  return { workspace: jobWorkspace(workRoot, name, tag.slice(0, 8)), tag };
}

function listen(
  registration: Registration,
  deadline: number,
  context: JobContext,
): Promise<ListenerRun> {
  const { config, workspace, log } = context;
  log.info({ runnerId: registration.runnerId }, 'runner registered');
  return runListener({
    executable: path.join(workspace.root, 'bin', 'Runner.Listener'),
    args: registration.args,
    cwd: workspace.root,
    env: context.env,
    idleTimeoutMs: config.idleTimeoutMs,
    deadline,
    stopGraceMs: config.stopGraceMs,
    onLine: (line) => log.info({ line }, 'listener'),
  });
}

function timings(started: number, run?: ListenerRun): RunnerResult['timings'] {
  const ended = Date.now();
  const since = (at?: number) => (at === undefined ? undefined : at - started);
  const jobStarted = run?.jobStartedAt;
  return {
    toListeningMs: since(run?.listeningAt),
    toJobMs: since(jobStarted),
    jobDurationMs: jobStarted === undefined ? undefined : (run?.jobEndedAt ?? ended) - jobStarted,
    totalMs: ended - started,
  };
}
