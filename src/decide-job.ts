import type { RoutingConfig } from './config';
import type { RunnerProfile } from './profiles';
import { routeJob, type ReasonCode } from './route-job';

/** The part of a `workflow_job` payload the decision reads. */
export interface JobEvent {
  readonly action?: string;
  readonly workflow_job?: { readonly labels?: readonly string[] | null };
  readonly repository?: {
    readonly full_name?: string;
    readonly private?: boolean;
  };
}

export type Decision =
  | { readonly result: 'dispatch'; readonly profile: RunnerProfile; readonly reason: string }
  | { readonly result: 'ignored'; readonly code: ReasonCode; readonly reason: string };

/**
 * Decides whether one webhook delivery should start a runner, and says why in words a user
 * can act on. Pure: the webhook, `lambda-runner explain` and the tests share it.
 */
export function decideJob(eventName: string, payload: JobEvent, config: RoutingConfig): Decision {
  if (eventName !== 'workflow_job')
    return ignored('event-not-handled', `event "${eventName}" is not handled`);
  if (payload.action !== 'queued') {
    return ignored('action-not-queued', `action "${payload.action}" is not "queued"`);
  }
  const refusal = refuseRepository(payload.repository, config);
  if (refusal) return { result: 'ignored', ...refusal };
  const route = routeJob(payload.workflow_job?.labels ?? [], config.profiles, config.requiredLabel);
  if (!route.matched) return ignored(route.code, route.reason);
  return {
    result: 'dispatch',
    profile: route.profile,
    reason: `profile "${route.profile.name}" offers every label`,
  };
}

function refuseRepository(
  repository: JobEvent['repository'],
  config: RoutingConfig,
): { code: ReasonCode; reason: string } | undefined {
  const { fullName, owner } = identify(repository);
  const restricted = config.allowedRepositories.length > 0 || config.allowedOwners.length > 0;
  const allowed =
    config.allowedRepositories.includes(fullName) || config.allowedOwners.includes(owner);
  if (restricted && !allowed) {
    return {
      code: 'repository-not-allowed',
      reason: `repository "${fullName}" is not in ALLOWED_REPOSITORIES or ALLOWED_OWNERS`,
    };
  }
  if (repository?.private !== true && !config.allowPublicRepositories) {
    return {
      code: 'public-repository',
      reason: `repository "${fullName}" is public and ALLOW_PUBLIC_REPOSITORIES is not true`,
    };
  }
  return undefined;
}

function identify(repository: JobEvent['repository']): { fullName: string; owner: string } {
  const fullName = (repository?.full_name ?? '').toLowerCase();
  return { fullName, owner: fullName.split('/')[0] ?? '' };
}

function ignored(code: ReasonCode, reason: string): Decision {
  return { result: 'ignored', code, reason };
}
