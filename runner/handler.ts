import pino, { type Logger } from 'pino';
import { createAwsClients, type AwsClients } from '../src/aws-clients';
import type { Env } from '../src/env';
import { LambdaRunnerError } from '../src/errors';
import { createMetrics, type Metrics } from '../src/metrics';
import { parseRunnerRequest } from '../src/runner-request';
import { createRunner } from './create-runner';
import type { RunnerResult } from './run-job';

export interface RunnerHandlerOptions {
  readonly env?: Env;
  readonly clients?: Pick<AwsClients, 'secretsManager' | 'sts'>;
  readonly log?: Logger;
  readonly deadlineMarginMs?: number;
  readonly retryAfterBaseValue?: number;
  readonly metrics?: Metrics;
}

/** A runner invocation that ended in failure: Lambda records an error, alarms and the DLQ see it. */
export class RunnerFailedError extends LambdaRunnerError {
  constructor(readonly result: RunnerResult) {
    super(
      `lambda-runner: runner ${result.runnerName} failed: ${result.error ?? `listener exit code ${result.exitCode}`}`,
    );
  }
}

/**
 * Builds the runner Lambda handler: validates the request the webhook sent, serves the job
 * before `remaining time - RUNNER_DEADLINE_MARGIN_SECONDS`, and returns the result. A failed
 * runner throws (after its clean-up) so the failure is visible in Lambda's metrics.
 */
export function createRunnerHandler(options: RunnerHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const log = options.log ?? pino({ level: env.LOG_LEVEL?.trim() || 'info' });
  // A failed runner ends its invocation with an error, so Lambda's Errors metric, the alarm and
  // the dead-letter queue see it. `RUNNER_FAIL_INVOCATION=false` returns the result instead.
  const failAsError = env.RUNNER_FAIL_INVOCATION?.trim() !== 'false';
  let run: ReturnType<typeof createRunner> | undefined;
  return async (
    event: unknown,
    context: { getRemainingTimeInMillis(): number },
  ): Promise<RunnerResult> => {
    const request = parseRunnerRequest(event);
    run ??= createRunner({
      metrics: options.metrics ?? createMetrics('runner'),
      env,
      clients: options.clients ?? createAwsClients(),
      log,
      retryAfterBaseValue: options.retryAfterBaseValue,
    });
    const margin =
      options.deadlineMarginMs ?? Number(env.RUNNER_DEADLINE_MARGIN_SECONDS ?? 60) * 1000;
    const result = await run(request, Date.now() + context.getRemainingTimeInMillis() - margin);
    if (result.outcome === 'failed' && failAsError) throw new RunnerFailedError(result);
    return result;
  };
}
