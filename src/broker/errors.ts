import { LambdaRunnerError } from '../errors';

/** GitHub already has a runner with this job's name: another invocation is serving the job. */
export class DuplicateRunnerError extends LambdaRunnerError {}

/** GitHub refused or failed a call the runner cannot do without. */
export class GitHubCallError extends LambdaRunnerError {
  override readonly retryable = true;
}
