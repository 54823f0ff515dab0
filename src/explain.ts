import type { RoutingConfig } from './config';
import type { RunnerProfile } from './profiles';
import { decideJob, type JobEvent } from './decide-job';

export interface ExplainInput {
  readonly event?: string;
  readonly payload: JobEvent;
}

/** What a user should do about each reason a job got no runner. */
const HINTS: Record<string, string> = {
  'event-not-handled':
    'lambda-runner acts on workflow_job deliveries only; check the App subscribes to "Workflow job".',
  'action-not-queued':
    'only a "queued" job starts a runner; in_progress/completed/waiting deliveries are expected and ignored.',
  'repository-not-allowed':
    'add the repository to ALLOWED_REPOSITORIES or its owner to ALLOWED_OWNERS.',
  'public-repository':
    'make the repository private, or set ALLOW_PUBLIC_REPOSITORIES=true (a fork pull request could then run code with the job role).',
  'no-labels': 'give the job `runs-on: [self-hosted, lambda-runner]`.',
  'missing-required-label':
    'add the required label to `runs-on` (REQUIRED_LABEL), e.g. `runs-on: [self-hosted, lambda-runner]`.',
  'no-matching-profile':
    'drop the labels no profile offers from `runs-on`, or add a profile (RUNNER_PROFILES / deploy/runner-profiles.json) that offers them.',
};

/** What runs the job, its limits, and what its isolation means for the jobs after it. */
function executorLines(profile: RunnerProfile): string[] {
  if (profile.executor === 'codebuild') {
    const docker = profile.docker ? 'Docker available (privileged)' : 'no Docker';
    return [
      `  executor codebuild: project ${profile.projectName}, ${profile.computeType ?? 'its compute type'}, up to ${profile.timeoutMinutes ?? 60} minutes, ${docker}`,
      '  isolation: a build of its own, a fresh environment no other job ever reaches',
    ];
  }
  const limits = "  executor lambda: up to 15 minutes (less the runner's margin), no Docker";
  if (profile.isolation === 'shared')
    return [
      limits,
      `  isolation shared: it runs where earlier jobs of ${profile.functionName} ran, and later ones may run where it did; a job can take the next job's runner credential there (one trust domain only)`,
    ];
  return [
    limits,
    '  isolation version: it runs in a function version of its own, an environment no other job ever reaches',
  ];
}

/** Where the job runs: the runner function, or the CodeBuild project. */
const runsIn = (profile: RunnerProfile) =>
  profile.executor === 'codebuild'
    ? `CodeBuild project ${profile.projectName}`
    : `function ${profile.functionName}`;

/**
 * Explains, in lines a person reads, whether a job gets a runner and why, with the same
 * decision code and configuration as the webhook, and what each profile lacks.
 */
export function explainJob(input: ExplainInput, config: RoutingConfig): string[] {
  const decision = decideJob(input.event ?? 'workflow_job', input.payload, config);
  const labels = (input.payload.workflow_job?.labels ?? []).map((label) => label.toLowerCase());
  if (decision.result === 'dispatch') {
    return [
      `✔ a runner starts: profile "${decision.profile.name}" (${runsIn(decision.profile)})`,
      `  ${decision.reason}: [${labels.join(', ')}]`,
      ...executorLines(decision.profile),
    ];
  }
  const lines = [
    `✘ no runner: ${decision.reason} [${decision.code}]`,
    `  what to do: ${HINTS[decision.code] ?? '-'}`,
  ];
  if (decision.code === 'no-matching-profile' || decision.code === 'missing-required-label') {
    lines.push(...profileGaps(labels, config));
  }
  return lines;
}

function profileGaps(labels: string[], config: RoutingConfig): string[] {
  return config.profiles.map((profile) => {
    const offered = new Set(profile.labels.map((label) => label.toLowerCase()));
    const missing = labels.filter((label) => !offered.has(label));
    const verdict =
      missing.length > 0 ? `lacks [${missing.join(', ')}]` : 'offers every label of the job';
    return `  profile "${profile.name}" offers [${profile.labels.join(', ')}]; ${verdict}`;
  });
}
