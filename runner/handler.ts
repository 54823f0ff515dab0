import pino, { type Logger } from 'pino';
import type { Env } from '../src/env';
import { LambdaRunnerError } from '../src/errors';
import { createMetrics, type Metrics } from '../src/metrics';
import { loadRunnerConfig, type RunnerConfig } from './config';
import { runJob, type RunnerResult } from './run-job';
import { parseRunnerPayload } from './runner-payload';
import { createSandbox, type Sandbox } from './sandbox';

export interface RunnerHandlerOptions {
  readonly env?: Env;
  readonly log?: Logger;
  readonly metrics?: Metrics;
  /** How a tainted sandbox is discarded: the runtime process exits (Lambda then replaces it). */
  readonly exit?: (code: number) => void;
}

/** A runner invocation that ended in failure: Lambda records an error, and the broker settles it. */
export class RunnerFailedError extends LambdaRunnerError {
  constructor(readonly result: RunnerResult) {
    super(
      `lambda-runner: runner ${result.runnerName} failed: ${result.error ?? `listener exit code ${result.exitCode}`}`,
    );
  }
}

/** A version's environment was handed a second runner event: it serves none. */
export class SecondJobError extends LambdaRunnerError {
  constructor(runnerName: string, version: string | undefined) {
    super(
      `lambda-runner: runner ${runnerName} refused: version ${version} already served a job in this environment`,
    );
  }
}

/** Throws for the second runner event in the environment of a published version. */
function oneJobGuard(version: string | undefined) {
  let served = 0;
  return (runnerName: string, log: Logger) => {
    served += 1;
    if (version === undefined || version === '$LATEST' || served === 1) return;
    log.fatal({ runnerName, version }, 'a second job in a one-job environment');
    throw new SecondJobError(runnerName, version);
  };
}

/**
 * Builds the runner Lambda handler. At init it records what belongs in the sandbox; each
 * invocation validates the payload the broker sent, serves the job before `remaining time -
 * RUNNER_DEADLINE_MARGIN_SECONDS`, and returns the result. A failed runner throws, so Lambda's
 * metrics see it; a sandbox that could not be made clean ends the runtime process, so Lambda
 * discards it and the broker, seeing the job still queued, dispatches it elsewhere.
 */
export function createRunnerHandler(options: RunnerHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  // Started now, during init: the processes alive at this point are the ones that belong.
  const ready: Promise<{ config: RunnerConfig; sandbox: Sandbox; log: Logger }> = Promise.resolve()
    .then(() => loadRunnerConfig(env))
    .then(async (config) => ({
      config,
      sandbox: await createSandbox(config),
      log: options.log ?? pino({ level: config.logLevel }),
    }));
  ready.catch(() => undefined); // reported by the first invocation
  const failAsError = env.RUNNER_FAIL_INVOCATION?.trim() !== 'false';
  // A published version (isolation `version`) exists for one job: a second event in this
  // environment means the pool handed a version out twice, and it is not served.
  const refuseSecond = oneJobGuard(env.AWS_LAMBDA_FUNCTION_VERSION);
  let metrics: Metrics | undefined = options.metrics;
  return async (
    event: unknown,
    context: { getRemainingTimeInMillis(): number },
  ): Promise<RunnerResult> => {
    const { config, sandbox, log } = await ready;
    const payload = parseRunnerPayload(event);
    refuseSecond(payload.runnerName, log);
    metrics ??= createMetrics('runner');
    const deadline = Date.now() + context.getRemainingTimeInMillis() - config.deadlineMarginMs;
    const result = await runJob(payload, deadline, { config, sandbox, log, env, metrics });
    if ((result.outcome === 'sandbox-tainted' || result.tainted) && config.ownsContainer) {
      log.fatal(
        { runnerName: result.runnerName, tainted: result.tainted ?? result.error },
        'sandbox discarded',
      );
      exit(1);
    }
    if (result.outcome === 'failed' && failAsError) throw new RunnerFailedError(result);
    return result;
  };
}
