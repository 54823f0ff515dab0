import { ConfigError } from './errors';
import { createEnvReader, isLambda, type Env, type EnvReader } from './env';
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
  readonly dispatch: 'lambda' | 'local';
  /** The broker the webhook hands each queued job to (dispatch `lambda`). */
  readonly brokerFunctionName?: string;
  readonly logLevel: string;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Parses and validates the webhook side's environment once. Throws one {@link ConfigError}
 * listing every problem; the result is frozen and holds secrets only as masked sources.
 */
export function loadWebhookConfig(env: Env = process.env): WebhookConfig {
  const read = createEnvReader(env);
  const webhookSecret = SecretSource.from(
    read.string('WEBHOOK_SECRET'),
    read.string('WEBHOOK_SECRET_ARN'),
  );
  if (!webhookSecret) read.problems.push('WEBHOOK_SECRET or WEBHOOK_SECRET_ARN is required');
  const dispatch = read.oneOf(
    'RUNNER_DISPATCH',
    ['lambda', 'local'],
    isLambda(env) ? 'lambda' : 'local',
  );
  checkDispatch(dispatch, env, read.problems);
  const config: WebhookConfig = {
    webhookSecret: webhookSecret ?? SecretSource.fromValue(''),
    ...routing(read),
    dispatch,
    brokerFunctionName: read.string('BROKER_FUNCTION_NAME'),
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
    profiles: loadProfiles(read),
    allowedRepositories: read.list('ALLOWED_REPOSITORIES').map((item) => item.toLowerCase()),
    allowedOwners: read.list('ALLOWED_OWNERS').map((item) => item.toLowerCase()),
    allowPublicRepositories: read.bool('ALLOW_PUBLIC_REPOSITORIES', false),
  };
}

function checkDispatch(dispatch: string, env: Env, problems: string[]): void {
  if (dispatch === 'local' && isLambda(env)) {
    problems.push(
      'RUNNER_DISPATCH=local runs runners in-process (npm start); in Lambda use "lambda"',
    );
  }
  if (dispatch === 'lambda' && !env.BROKER_FUNCTION_NAME?.trim()) {
    problems.push('BROKER_FUNCTION_NAME is required when RUNNER_DISPATCH=lambda');
  }
}

/** The webhook routes by labels alone; which function runs a profile is the broker's business. */
function loadProfiles(read: EnvReader): RunnerProfile[] {
  const json = read.string('RUNNER_PROFILES');
  if (json) return parseProfiles(json, read.problems);
  const labels = read.list('RUNNER_LABELS', DEFAULT_RUNNER_LABELS);
  if (labels.length === 0) read.problems.push('RUNNER_LABELS must list at least one label');
  const functionName = read.string('RUNNER_FUNCTION_NAME') ?? 'local';
  return [{ name: 'default', labels, functionName }];
}
