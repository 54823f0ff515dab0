import pino from 'pino';
import type { Env } from '../src/env';
import { parseJson } from '../src/json';
import { createRunnerHandler, type RunnerHandlerOptions } from './handler';

/** The build variables the broker sets (src/broker/executors.ts names them the same). */
const PAYLOAD = 'LAMBDA_RUNNER_PAYLOAD';
const TIMEOUT = 'LAMBDA_RUNNER_TIMEOUT_SECONDS';

/**
 * A CodeBuild build's runner: the same runner code as the Lambda's, given the build's payload
 * and the build's own deadline (its start, from `CODEBUILD_START_TIME`, plus its timeout). The
 * payload's variable is withheld from the listener's environment. Resolves to the build's exit
 * code: 0 once the runner served its job, 1 when it failed, 2 for a build without a payload.
 * How the build ended reaches the broker by CodeBuild's state change event, not by this code.
 */
export async function runBuild(
  env: Env = process.env,
  options: Pick<RunnerHandlerOptions, 'log' | 'exit'> & { now?: () => number } = {},
): Promise<number> {
  const log = options.log ?? pino({ level: env.LOG_LEVEL ?? 'info' });
  const now = options.now ?? Date.now;
  const event = parseJson(env[PAYLOAD]);
  if (event === undefined) {
    log.error(`lambda-runner: the build has no runner payload in ${PAYLOAD}`);
    return 2;
  }
  // The build's container is its job's alone and goes with the build: nothing to sweep.
  const jobEnv: Env = Object.fromEntries(
    Object.entries({ ...env, RUNNER_OWNS_CONTAINER: 'false' }).filter(([name]) => name !== PAYLOAD),
  );
  const deadline = buildDeadline(env, now);
  const handler = createRunnerHandler({ env: jobEnv, log, exit: options.exit });
  try {
    const result = await handler(event, { getRemainingTimeInMillis: () => deadline - now() });
    log.info({ runnerName: result.runnerName, outcome: result.outcome }, 'build runner ended');
    return 0;
  } catch (error) {
    log.error({ err: error }, 'build runner failed');
    return 1;
  }
}

/** When the build's time runs out: its start (CodeBuild's own variable) plus its timeout. */
function buildDeadline(env: Env, now: () => number): number {
  const started = Number(env.CODEBUILD_START_TIME) || now();
  return started + (Number(env[TIMEOUT]) || 3600) * 1000;
}

if (require.main === module) {
  void runBuild().then((code) => {
    process.exitCode = code;
  });
}
