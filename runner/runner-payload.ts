import { checkFields, isPositiveInt, isText, type RunnerRequest } from '../src/runner-request';

/** The one-use credential a runner gets: a JIT config, or (token mode) a registration token. */
export type RunnerCredential =
  | { readonly jitConfig: string }
  | { readonly token: string; readonly url: string; readonly group?: string };

/**
 * What the broker sends a runner function: one job, the runner's name, and one credential good
 * for that runner alone. Nothing in it can act as the App. The broker seals it, so that when
 * Lambda hands it back in the destination record the broker knows it wrote it; the runner
 * cannot check the seal and does not need to.
 */
export type RunnerPayload = Omit<RunnerRequest, 'kind'> & {
  readonly kind: 'runner';
  readonly runnerName: string;
  /** GitHub's id for the runner (JIT); in token mode the broker finds it by name. */
  readonly runnerId?: number;
  readonly scope: 'repo' | 'org';
  readonly credential: RunnerCredential;
  /** The runner function's version this runner alone runs in (isolation `version`). */
  readonly functionVersion?: string;
  /** The App that registered the runner, when not the stage's first (several Apps). */
  readonly registeredBy?: { readonly appId?: string; readonly installationId: number };
};

/** Validates the runner's input; throws a TypeError naming every bad field. */
export function parseRunnerPayload(input: unknown): RunnerPayload {
  return checkFields<RunnerPayload>(input, 'runner payload', {
    kind: (field) => field === 'runner',
    runnerName: (field) => isText(field) && /^[\w.-]{1,64}$/.test(field),
    dispatch: isPositiveInt,
    jobId: isPositiveInt,
    runAttempt: isPositiveInt,
    owner: isText,
    repo: isText,
    labels: (field) => Array.isArray(field) && field.every(isText),
    scope: (field) => field === 'repo' || field === 'org',
    credential: isCredential,
  });
}

function isCredential(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  if ('jitConfig' in fields) return isText(fields.jitConfig);
  return isText(fields.token) && isText(fields.url);
}
