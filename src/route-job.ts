import type { RunnerProfile } from './profiles';

export type Route =
  | { readonly matched: true; readonly profile: RunnerProfile }
  | { readonly matched: false; readonly code: ReasonCode; readonly reason: string };

/** Why a delivery started no runner, as a short, fixed code (a metric dimension). */
export type ReasonCode =
  | 'event-not-handled'
  | 'action-not-queued'
  | 'repository-not-allowed'
  | 'public-repository'
  | 'no-labels'
  | 'missing-required-label'
  | 'no-matching-profile'
  | 'incomplete-payload';

/**
 * Picks the first profile that serves a job's `runs-on` labels. A job is ours only when it
 * carries the required label and every one of its labels (case-insensitive) is among the
 * profile's labels, so a bare `self-hosted` job never starts a Lambda.
 */
export function routeJob(
  jobLabels: readonly string[],
  profiles: readonly RunnerProfile[],
  requiredLabel: string,
): Route {
  const labels = [...new Set(jobLabels.map((label) => label.trim().toLowerCase()))];
  if (labels.length === 0)
    return { matched: false, code: 'no-labels', reason: 'the job has no labels' };
  if (!labels.includes(requiredLabel.toLowerCase())) {
    return {
      matched: false,
      code: 'missing-required-label',
      reason: `the job's labels do not include "${requiredLabel}"`,
    };
  }
  const profile = profiles.find((candidate) => {
    const offered = new Set(candidate.labels.map((label) => label.toLowerCase()));
    return labels.every((label) => offered.has(label));
  });
  if (profile) return { matched: true, profile };
  return {
    matched: false,
    code: 'no-matching-profile',
    reason: `no profile offers all of [${labels.join(', ')}]`,
  };
}
