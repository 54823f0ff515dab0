import type { RunnerProfile } from './profiles';

/**
 * The dispatch request: what the webhook sends the broker for one queued job, and what the
 * broker sends itself to dispatch a job again (`dispatch` counts the runners started for it).
 * It carries no credential; the webhook seals it (see seal.ts) so the broker can trust it.
 */
export interface RunnerRequest {
  readonly kind: 'dispatch';
  /** 1 for the webhook's dispatch; each dispatch again after a failed runner adds one. */
  readonly dispatch: number;
  readonly installationId: number;
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
  readonly runId: number;
  readonly runAttempt: number;
  readonly jobName?: string;
  readonly jobCreatedAt?: string;
  readonly labels: readonly string[];
  readonly profile: string;
  readonly scope?: 'repo' | 'org';
  readonly group?: string;
  readonly deliveryId: string;
}

interface QueuedJobPayload {
  readonly installation?: { readonly id?: number };
  readonly repository?: { readonly full_name?: string };
  readonly workflow_job?: {
    readonly id?: number;
    readonly run_id?: number;
    readonly run_attempt?: number;
    readonly name?: string;
    readonly created_at?: string;
  };
}

/** Builds the request for a queued job routed to `profile`; the runner carries the profile's labels. */
export function buildRunnerRequest(
  payload: QueuedJobPayload,
  profile: RunnerProfile,
  deliveryId: string,
): RunnerRequest {
  const { installation = {}, repository = {}, workflow_job: job = {} } = payload;
  // full_name is what the REST paths take; owner.login can differ after a transfer or rename.
  const [owner, repo] = (repository.full_name ?? '').split('/');
  return parseRunnerRequest({
    kind: 'dispatch',
    dispatch: 1,
    installationId: installation.id,
    owner,
    repo,
    jobId: job.id,
    runId: job.run_id,
    runAttempt: job.run_attempt ?? 1,
    jobName: job.name,
    jobCreatedAt: job.created_at,
    labels: profile.labels,
    profile: profile.name,
    scope: profile.scope,
    group: profile.group,
    deliveryId,
  });
}

/** Validates a request's shape; throws a TypeError naming every bad field. */
export function parseRunnerRequest(input: unknown): RunnerRequest {
  return checkFields<RunnerRequest>(input, 'runner request', {
    kind: (field) => field === 'dispatch',
    dispatch: isPositiveInt,
    installationId: isPositiveInt,
    jobId: isPositiveInt,
    runId: isPositiveInt,
    runAttempt: isPositiveInt,
    owner: isText,
    repo: isText,
    profile: isText,
    deliveryId: isText,
    labels: (field) => Array.isArray(field) && field.every(isText),
    scope: (field) => [undefined, 'repo', 'org'].includes(field as string),
  });
}

/**
 * `input` as a `T` when every field passes its check; else a TypeError naming every field that
 * does not (the `what` names the kind of input).
 */
export function checkFields<T>(
  input: unknown,
  what: string,
  checks: Record<string, (field: unknown) => boolean>,
): T {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  const bad = Object.entries(checks)
    .filter(([key, check]) => !check(value[key]))
    .map(([key]) => key);
  if (bad.length > 0) {
    throw new TypeError(`lambda-runner: invalid ${what}, bad fields: ${bad.join(', ')}`);
  }
  return value as unknown as T;
}

export function isPositiveInt(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

export function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
