import { LambdaRunnerError } from '../errors';

/** GitHub already has a runner with this job's name: another invocation is serving the job. */
export class DuplicateRunnerError extends LambdaRunnerError {}

/** GitHub refused or failed a call the runner cannot do without. */
export class GitHubCallError extends LambdaRunnerError {
  override readonly retryable = true;
}

/** GitHub asked this caller to wait longer than a function should sleep: retried later. */
export class RateLimitedError extends LambdaRunnerError {
  override readonly retryable = true;
  constructor(
    message: string,
    /** When the caller may call again (ms since the epoch). */
    readonly until: number,
  ) {
    super(message);
  }
}
