import type { RunnerProfile } from './profiles';

export type Route =
  | { readonly matched: true; readonly profile: RunnerProfile }
  | { readonly matched: false; readonly reason: string };

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
  if (labels.length === 0) return { matched: false, reason: 'the job has no labels' };
  if (!labels.includes(requiredLabel.toLowerCase())) {
    return { matched: false, reason: `the job's labels do not include "${requiredLabel}"` };
  }
  const profile = profiles.find((candidate) => {
    const offered = new Set(candidate.labels.map((label) => label.toLowerCase()));
    return labels.every((label) => offered.has(label));
  });
  if (profile) return { matched: true, profile };
  return { matched: false, reason: `no profile offers all of [${labels.join(', ')}]` };
}
