import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Env } from '../src/env';
import { recordRunner, type Metrics, type RunnerFigures } from '../src/metrics';
import type { RunnerConfig } from './config';
import { configureRunner } from './configure-runner';
import { jobEnvironment } from './job-environment';
import { createWorkspace, jobWorkspace, type JobWorkspace } from './job-workspace';
import { runListener, type ListenerRun } from './listener';
import { prepareRunnerRoot } from './runner-layout';
import type { RunnerPayload } from './runner-payload';
import type { Sandbox } from './sandbox';

export type RunnerOutcome = 'completed' | 'idle' | 'deadline' | 'failed' | 'sandbox-tainted';

export interface RunnerResult {
  readonly runnerName: string;
  readonly registration: 'jit' | 'token';
  readonly outcome: RunnerOutcome;
  readonly exitCode: number | null;
  readonly jobResult?: string;
  readonly error?: string;
  readonly processesKilled: number;
  /** Set when the sandbox could not be made clean after the job: it must be discarded. */
  readonly tainted?: string;
  readonly timings: {
    toListeningMs?: number;
    toJobMs?: number;
    jobDurationMs?: number;
    totalMs: number;
  };
}

export interface RunJobDeps {
  readonly config: RunnerConfig;
  readonly sandbox: Sandbox;
  readonly log: Logger;
  readonly env?: Env;
  /** Where the runner's outcome and timings are counted (CloudWatch EMF). */
  readonly metrics?: Metrics;
}

type Attempt = Omit<RunnerResult, 'runnerName' | 'registration' | 'timings' | 'processesKilled'> & {
  run?: ListenerRun;
};

/**
 * Serves one job with the one-use credential the broker sent: makes the sandbox clean, lays
 * out the runner root, runs the listener until the job ends, the idle timeout or the deadline,
 * and makes the sandbox clean again. The runner talks to no GitHub API and holds no secret:
 * registrations are the broker's to create and delete.
 */
export async function runJob(
  payload: RunnerPayload,
  deadline: number,
  deps: RunJobDeps,
): Promise<RunnerResult> {
  const started = Date.now();
  const log = deps.log.child({
    deliveryId: payload.deliveryId,
    repository: `${payload.owner}/${payload.repo}`,
    jobId: payload.jobId,
    runId: payload.runId,
    attempt: payload.runAttempt,
    runnerName: payload.runnerName,
    profile: payload.profile,
  });
  const tag = randomUUID();
  const workspace = jobWorkspace(deps.config.workRoot, payload.runnerName, tag.slice(0, 8));
  const before = await deps.sandbox.clean({ tag });
  const attempt: Attempt = before.tainted
    ? { outcome: 'sandbox-tainted', exitCode: null, error: before.tainted }
    : await serve(payload, deadline, { ...deps, log, tag, workspace });
  const after = before.tainted ? before : await deps.sandbox.clean({ tag, jobDir: workspace.dir });
  const { run, ...rest } = attempt;
  const result: RunnerResult = {
    runnerName: payload.runnerName,
    registration: 'jitConfig' in payload.credential ? 'jit' : 'token',
    processesKilled: before.processesKilled + (before.tainted ? 0 : after.processesKilled),
    ...rest,
    ...(after.tainted ? { tainted: after.tainted } : {}),
    timings: timings(started, run),
  };
  const level = result.outcome === 'failed' || result.tainted ? 'error' : 'info';
  log[level](
    {
      outcome: result.outcome,
      exitCode: result.exitCode,
      jobResult: result.jobResult,
      error: result.error,
      processesKilled: result.processesKilled,
      tainted: result.tainted,
      timings: result.timings,
    },
    `runner ${result.outcome}`,
  );
  recordRunner(deps.metrics, runnerFigures(payload, result, started));
  return result;
}

async function serve(
  payload: RunnerPayload,
  deadline: number,
  deps: RunJobDeps & { tag: string; workspace: JobWorkspace },
): Promise<Attempt> {
  if (deadline <= Date.now())
    return {
      outcome: 'deadline',
      exitCode: null,
      error: 'no time left before the Lambda deadline',
    };
  const env = jobEnvironment(deps.env ?? process.env, deps.workspace, deps.tag);
  try {
    await Promise.all([
      prepareRunnerRoot(deps.config.sourceDir, deps.workspace.root, deps.config.layout),
      createWorkspace(deps.workspace),
    ]);
    const args = await listenerArgs(payload, deps.workspace, env);
    const run = await listen(args, deadline, { ...deps, env });
    if (run.outcome === 'deadline')
      deps.log.error('the job hit the Lambda time limit and was stopped');
    return { outcome: run.outcome, exitCode: run.exitCode, jobResult: run.jobResult, run };
  } catch (error) {
    return { outcome: 'failed', exitCode: null, error: (error as Error).message };
  }
}

/** JIT: the config goes to `run`. Token mode: `config.sh` registers first, then a plain `run`. */
async function listenerArgs(
  payload: RunnerPayload,
  workspace: JobWorkspace,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const { credential } = payload;
  if ('jitConfig' in credential) return ['run', '--jitconfig', credential.jitConfig];
  await configureRunner({
    root: workspace.root,
    url: credential.url,
    token: credential.token,
    name: payload.runnerName,
    labels: payload.labels,
    group: credential.group,
    env,
    timeoutMs: 60_000,
  });
  return ['run'];
}

function listen(
  args: string[],
  deadline: number,
  deps: RunJobDeps & { workspace: JobWorkspace; env: NodeJS.ProcessEnv },
): Promise<ListenerRun> {
  const { config, workspace, log } = deps;
  return runListener({
    executable: path.join(workspace.root, 'bin', 'Runner.Listener'),
    args,
    cwd: workspace.root,
    env: deps.env,
    idleTimeoutMs: config.idleTimeoutMs,
    deadline,
    stopGraceMs: config.stopGraceMs,
    onLine: (line) => log.info({ line }, 'listener'),
  });
}

function runnerFigures(
  payload: RunnerPayload,
  result: RunnerResult,
  started: number,
): RunnerFigures {
  const created = payload.jobCreatedAt ? Date.parse(payload.jobCreatedAt) : NaN;
  const since = (offset?: number) =>
    offset === undefined ? undefined : started + offset - created;
  return {
    outcome: result.outcome,
    exitCode: result.exitCode,
    sinceCreatedToListeningMs: since(result.timings.toListeningMs),
    sinceCreatedToJobMs: since(result.timings.toJobMs),
    jobDurationMs: result.timings.jobDurationMs,
    metadata: {
      jobId: payload.jobId,
      runnerName: result.runnerName,
      deliveryId: payload.deliveryId,
      profile: payload.profile,
    },
  };
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
