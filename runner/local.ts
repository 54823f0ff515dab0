import type { Logger } from 'pino';
import { createAwsClients } from '../src/aws-clients';
import type { RunnerRequest } from '../src/runner-request';
import { createRunner } from './create-runner';
import type { RunnerResult } from './run-job';

/** A local runner has no Lambda wall clock; this bounds it like the Lambda one (15 minutes). */
const LOCAL_DEADLINE_MS = 15 * 60 * 1000;

/**
 * Local mode (`npm start`): serves a job with a runner on this host, in this process, with the
 * same executor the runner Lambda uses.
 */
export function createLocalRunner(log: Logger): (request: RunnerRequest) => Promise<RunnerResult> {
  const run = createRunner({ clients: createAwsClients(), log });
  return (request) => run(request, Date.now() + LOCAL_DEADLINE_MS);
}
