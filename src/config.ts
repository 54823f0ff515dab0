import { ConfigError } from './errors';
import { createEnvReader, isLambda, LOG_LEVELS, type Env, type EnvReader } from './env';
import { DEFAULT_RUNNER_LABELS, parseProfiles, type RunnerProfile } from './profiles';
import { SecretSource } from './secret-source';

/** What decides whether a job gets a runner: shared by the webhook and `lambda-runner explain`. */
export interface RoutingConfig {
  readonly requiredLabel: string;
  readonly profiles: readonly RunnerProfile[];
  readonly allowedRepositories: readonly string[];
  readonly allowedOwners: readonly string[];
  readonly allowPublicRepositories: boolean;
}

export interface WebhookConfig extends RoutingConfig {
  readonly webhookSecret: SecretSource;
  readonly dispatch: 'queue' | 'lambda' | 'local';
  /** The broker the webhook hands each queued job to (dispatch `lambda`). */
  readonly brokerFunctionName?: string;
  /** The queue the broker takes jobs from (dispatch `queue`, as deployed). */
  readonly dispatchQueueUrl?: string;
  /** The control table, where the webhook records our jobs' states for the broker. */
  readonly controlTable?: string;
  readonly logLevel: string;
}

/**
 * Parses and validates the webhook side's environment once. Throws one {@link ConfigError}
 * listing every problem; the result is frozen and holds secrets only as masked sources.
 */
export function loadWebhookConfig(env: Env = process.env): WebhookConfig {
  const read = createEnvReader(env);
  const dispatch = read.oneOf(
    'RUNNER_DISPATCH',
    ['queue', 'lambda', 'local'],
    isLambda(env) ? 'lambda' : 'local',
  );
  const brokerFunctionName = read.string('BROKER_FUNCTION_NAME');
  const dispatchQueueUrl = read.string('DISPATCH_QUEUE_URL');
  checkDispatch(
    dispatch,
    { inLambda: isLambda(env), brokerFunctionName, dispatchQueueUrl },
    read.problems,
  );
  const config: WebhookConfig = {
    webhookSecret: readWebhookSecret(read),
    ...routing(read),
    dispatch,
    brokerFunctionName,
    dispatchQueueUrl,
    controlTable: read.string('CONTROL_TABLE'),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

/**
 * The routing rules alone, for `lambda-runner explain`: no secret, no function names required.
 * Throws one {@link ConfigError} listing every problem.
 */
export function loadRoutingConfig(env: Env = process.env): RoutingConfig {
  const read = createEnvReader(env);
  const config = routing(read);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

function routing(read: EnvReader): RoutingConfig {
  return {
    requiredLabel: read.text('REQUIRED_LABEL', 'lambda-runner').toLowerCase(),
    profiles: readProfiles(read),
    allowedRepositories: read.list('ALLOWED_REPOSITORIES').map((item) => item.toLowerCase()),
    allowedOwners: read.list('ALLOWED_OWNERS').map((item) => item.toLowerCase()),
    allowPublicRepositories: read.bool('ALLOW_PUBLIC_REPOSITORIES', false),
  };
}

function checkDispatch(
  dispatch: string,
  target: { inLambda: boolean; brokerFunctionName?: string; dispatchQueueUrl?: string },
  problems: string[],
): void {
  if (dispatch === 'local' && target.inLambda) {
    problems.push(
      'RUNNER_DISPATCH=local runs runners in-process (npm start); in Lambda use "queue" or "lambda"',
    );
  }
  if (dispatch === 'lambda' && !target.brokerFunctionName) {
    problems.push('BROKER_FUNCTION_NAME is required when RUNNER_DISPATCH=lambda');
  }
  if (dispatch === 'queue' && !target.dispatchQueueUrl) {
    problems.push('DISPATCH_QUEUE_URL is required when RUNNER_DISPATCH=queue');
  }
}

/** `WEBHOOK_SECRET` or `WEBHOOK_SECRET_ARN`: the webhook verifies with it, the broker seals with it. */
export function readWebhookSecret(read: EnvReader): SecretSource {
  const secret = SecretSource.from(
    read.string('WEBHOOK_SECRET'),
    read.string('WEBHOOK_SECRET_ARN'),
  );
  if (!secret) read.problems.push('WEBHOOK_SECRET or WEBHOOK_SECRET_ARN is required');
  return secret ?? SecretSource.fromValue('');
}

/**
 * The runner profiles: `RUNNER_PROFILES`, else one default profile of `RUNNER_LABELS` run by
 * `RUNNER_FUNCTION_NAME`. The webhook routes by labels alone; the broker, which starts the
 * functions, needs the function name inside Lambda (`requireFunctionName`).
 */
export function readProfiles(read: EnvReader, requireFunctionName = false): RunnerProfile[] {
  const json = read.string('RUNNER_PROFILES');
  if (json) return parseProfiles(json, read.problems);
  const labels = read.list('RUNNER_LABELS', DEFAULT_RUNNER_LABELS);
  if (labels.length === 0) read.problems.push('RUNNER_LABELS must list at least one label');
  const functionName = read.string('RUNNER_FUNCTION_NAME');
  if (!functionName && requireFunctionName) {
    read.problems.push('RUNNER_FUNCTION_NAME (or RUNNER_PROFILES) is required in Lambda');
  }
  return [{ name: 'default', labels, functionName: functionName ?? 'local' }];
}
