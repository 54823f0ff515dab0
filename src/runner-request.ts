import type { RunnerProfile } from './profiles';

/**
 * What the webhook sends the runner function: everything it needs to register one runner for
 * one job. Both sides import this module, so the contract lives in one place.
 */
export interface RunnerRequest {
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

/** Validates an untrusted request (the runner's input); throws a TypeError naming every bad field. */
export function parseRunnerRequest(input: unknown): RunnerRequest {
  const value = (typeof input === 'object' && input !== null ? input : {}) as Record<
    string,
    unknown
  >;
  const bad = badFields(value);
  if (bad.length > 0) {
    throw new TypeError(`lambda-runner: invalid runner request, bad fields: ${bad.join(', ')}`);
  }
  return value as unknown as RunnerRequest;
}

function badFields(value: Record<string, unknown>): string[] {
  const checks: Record<string, (field: unknown) => boolean> = {
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
  };
  return Object.entries(checks)
    .filter(([key, check]) => !check(value[key]))
    .map(([key]) => key);
}

function isPositiveInt(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
