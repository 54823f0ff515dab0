/**
 * The few errors lambda-runner raises on purpose. Each carries what the edge needs to
 * answer (HTTP status, whether a retry can help); only the edge turns them into answers.
 */
export class LambdaRunnerError extends Error {
  readonly statusCode: number = 500;
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One or more configuration variables are missing or invalid; lists every problem. */
export class ConfigError extends LambdaRunnerError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`lambda-runner: invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** The runner function could not be invoked: GitHub should show a failed, redeliverable delivery. */
export class DispatchError extends LambdaRunnerError {
  override readonly statusCode = 503;
  override readonly retryable = true;
}

/** A secret could not be read from Secrets Manager. */
export class SecretError extends LambdaRunnerError {
  override readonly retryable = true;
}

/** DynamoDB refused a conditional write: the condition did not hold. */
export const conditionFailed = (error: unknown) =>
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
