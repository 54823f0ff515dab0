import { ConfigError } from '../src/errors';
import { createEnvReader, isLambda, LOG_LEVELS, type Env } from '../src/env';

export interface RunnerConfig {
  readonly layout: 'link' | 'copy';
  readonly sourceDir: string;
  readonly workRoot: string;
  readonly idleTimeoutMs: number;
  readonly deadlineMarginMs: number;
  readonly stopGraceMs: number;
  /**
   * True inside Lambda: the sandbox is ours alone, so every process not there at init and all
   * of the work root go, and a sandbox that cannot be made clean is discarded.
   */
  readonly ownsContainer: boolean;
  /** Below this much free space in the work root after the wipe, the sandbox is tainted. */
  readonly minFreeBytes: number;
  readonly logLevel: string;
}

/** What the clean-up after a stopped listener may take, inside the deadline margin. */
export const CLEANUP_RESERVE_MS = 5000;

/**
 * Parses and validates the runner side's environment once per sandbox; reports every problem
 * in one {@link ConfigError}. The runner holds no secret: there is none to read.
 */
export function loadRunnerConfig(env: Env = process.env): RunnerConfig {
  const read = createEnvReader(env);
  const config: RunnerConfig = {
    layout: read.oneOf('RUNNER_LAYOUT', ['link', 'copy'], 'link'),
    sourceDir: read.text('RUNNER_SOURCE_DIR', '/opt/actions-runner'),
    workRoot: read.text('RUNNER_WORK_ROOT', '/tmp'),
    idleTimeoutMs: read.int('RUNNER_IDLE_TIMEOUT_SECONDS', 60, 1) * 1000,
    deadlineMarginMs: read.int('RUNNER_DEADLINE_MARGIN_SECONDS', 60) * 1000,
    stopGraceMs: read.int('RUNNER_STOP_GRACE_SECONDS', 10) * 1000,
    ownsContainer: read.bool('RUNNER_OWNS_CONTAINER', isLambda(env)),
    minFreeBytes: read.int('RUNNER_MIN_FREE_MB', 256) * 1024 * 1024,
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
  // The stop (SIGTERM, grace, SIGKILL) and the clean-up after it must end before Lambda's own
  // deadline, or the sandbox is frozen mid-clean-up with the job's processes still in it.
  if (config.stopGraceMs + CLEANUP_RESERVE_MS > config.deadlineMarginMs) {
    read.problems.push(
      `RUNNER_STOP_GRACE_SECONDS (${config.stopGraceMs / 1000}) plus ${CLEANUP_RESERVE_MS / 1000} s of clean-up must fit in RUNNER_DEADLINE_MARGIN_SECONDS (${config.deadlineMarginMs / 1000})`,
    );
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}
