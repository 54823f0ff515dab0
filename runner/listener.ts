import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ListenerOutcome = 'completed' | 'idle' | 'deadline' | 'failed';

export interface ListenerRun {
  readonly outcome: ListenerOutcome;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** `Succeeded`, `Failed` or `Canceled`, when the listener reported a finished job. */
  readonly jobResult?: string;
  readonly listeningAt?: number;
  readonly jobStartedAt?: number;
  readonly jobEndedAt?: number;
}

export interface ListenerOptions {
  readonly executable: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Stop a listener that has not started a job by then. */
  readonly idleTimeoutMs: number;
  /** Absolute time (ms since epoch) at which to stop, whatever it is doing. */
  readonly deadline: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly stopGraceMs: number;
  readonly onLine: (line: string) => void;
  readonly now?: () => number;
}

const LISTENING = /: Listening for Jobs\s*$/;
const RUNNING = /: Running job: /;
const COMPLETED = /: Job .* completed with result: (\w+)/;

/**
 * Spawns `Runner.Listener` directly (not run.sh, which hides its exit code), streams its output
 * line by line, and watches it: stop when no job started within the idle timeout, or at the
 * deadline, with SIGTERM, then SIGKILL after the grace period. The listener leads its own process
 * group, so a stop reaches the worker and the job's steps too.
 */
export function runListener(options: ListenerOptions): Promise<ListenerRun> {
  const now = options.now ?? Date.now;
  const child = spawn(options.executable, [...options.args], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state: { -readonly [K in keyof ListenerRun]?: ListenerRun[K] } = {};
  let stopReason: ListenerOutcome | undefined;
  const timers: NodeJS.Timeout[] = [];
  const stop = (reason: ListenerOutcome) => {
    if (stopReason) return;
    stopReason = reason;
    signalGroup(child.pid, 'SIGTERM');
    timers.push(setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.stopGraceMs));
  };
  const watchLine = (line: string) => {
    options.onLine(line);
    if (LISTENING.test(line)) state.listeningAt ??= now();
    if (RUNNING.test(line)) {
      state.jobStartedAt ??= now();
      clearTimeout(idleTimer);
    }
    watchCompletion(line);
  };
  // Only the first completion line counts, and only after "Running job": a job that failed
  // cannot print its way to success.
  const watchCompletion = (line: string) => {
    if (state.jobResult !== undefined || state.jobStartedAt === undefined) return;
    const completed = COMPLETED.exec(line);
    if (!completed) return;
    state.jobResult = completed[1];
    state.jobEndedAt = now();
  };
  createInterface({ input: child.stdout }).on('line', watchLine);
  createInterface({ input: child.stderr }).on('line', watchLine);
  const idleTimer = setTimeout(() => stop('idle'), options.idleTimeoutMs);
  timers.push(
    idleTimer,
    setTimeout(() => stop('deadline'), Math.max(0, options.deadline - now())),
  );

  return new Promise((resolve) => {
    let settled = false;
    const settle = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      const outcome = stopReason ?? (exitCode === 0 && state.jobResult ? 'completed' : 'failed');
      resolve({ ...state, outcome, exitCode, signal });
    };
    child.on('error', (error) => {
      options.onLine(`lambda-runner: cannot start listener: ${error.message}`);
      settle(null, null);
    });
    // 'exit', not 'close': a daemon the job left behind may hold the pipes open for ever.
    // Give the last lines a moment to drain, then stop reading.
    child.on('exit', (exitCode, signal) => {
      // Nothing after that is read or believed: lines a job's process writes into the pipes
      // once the listener is gone never reach the result.
      const drained = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        settle(exitCode, signal);
      }, 250);
      child.on('close', () => {
        clearTimeout(drained);
        settle(exitCode, signal);
      });
    });
  });
}

/** Signals a whole process group; a group that is already gone is fine. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: every process of the group has exited.
  }
}
