import type { Logger } from 'pino';
import type { WebhookConfig } from './config';
import { decideJob, type JobEvent } from './decide-job';
import type { Dispatch } from './dispatch';
import {
  jobStatusOf,
  type JobKey,
  type JobState,
  type JobStates,
  type JobStatus,
} from './job-states';
import { recordDecision, type Metrics } from './metrics';
import type { RunnerProfile } from './profiles';
import type { ReasonCode } from './route-job';
import { buildRunnerRequest, type RunnerRequest } from './runner-request';

export type DeliveryOutcome =
  | {
      readonly result: 'dispatched';
      readonly profile: string;
      readonly jobId: number;
      readonly deliveryId: string;
    }
  | { readonly result: 'ignored'; readonly reason: string };

export interface Delivery {
  readonly id: string;
  readonly name: string;
  readonly payload: JobEvent &
    Parameters<typeof buildRunnerRequest>[0] & {
      readonly workflow_job?: {
        readonly runner_name?: string | null;
        readonly conclusion?: string | null;
      };
    };
}

export interface DeliveryDeps {
  readonly config: WebhookConfig;
  readonly dispatch: Dispatch;
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** Where each of our jobs' states is kept for the broker (the control table); none locally. */
  readonly jobStates?: JobStates;
}

/**
 * Decides one delivery, dispatches a runner when it is ours, and logs the decision as one line
 * (delivery id, repository, job id, labels, decision, reason). A dispatch failure is logged and
 * rethrown so the edge can answer 5xx and GitHub can redeliver.
 */
export async function handleDelivery(
  delivery: Delivery,
  deps: DeliveryDeps,
): Promise<DeliveryOutcome> {
  const { config, dispatch, log, metrics } = deps;
  const { payload } = delivery;
  const fields = {
    deliveryId: delivery.id,
    event: delivery.name,
    action: payload.action,
    repository: payload.repository?.full_name,
    jobId:
      payload.workflow_job && 'id' in payload.workflow_job ? payload.workflow_job.id : undefined,
    labels: payload.workflow_job?.labels ?? undefined,
  };
  const plan = planDelivery(delivery, config);
  const jobState = await recordJobState(delivery, deps);
  if ('reason' in plan) {
    log.info(
      { ...fields, decision: 'ignored', reason: plan.reason, code: plan.code, jobState },
      'delivery ignored',
    );
    recordDecision(metrics, 'ignored', plan.code);
    return { result: 'ignored', reason: plan.reason };
  }
  const { request, profile } = plan;
  try {
    await dispatch(request, profile);
  } catch (error) {
    log.error(
      { ...fields, decision: 'failed', profile: profile.name, err: error },
      'dispatch failed',
    );
    throw error;
  }
  log.info(
    { ...fields, decision: 'dispatched', profile: profile.name, reason: plan.why, jobState },
    'runner dispatched',
  );
  recordDecision(metrics, 'dispatched', profile.name);
  return {
    result: 'dispatched',
    profile: profile.name,
    jobId: request.jobId,
    deliveryId: delivery.id,
  };
}

/**
 * Records where one of our jobs stands (queued, in progress on a runner, completed), so the
 * broker need not ask GitHub. A job none of our profiles serves is not recorded. A failed write
 * is logged and costs only a GitHub read later: the delivery is handled all the same.
 */
async function recordJobState(
  delivery: Delivery,
  { config, jobStates, log }: DeliveryDeps,
): Promise<JobStatus | undefined> {
  const status = jobStatusOf(delivery.payload.action);
  const key = jobKeyOf(delivery.payload);
  if (!jobStates || !status || !key) return undefined;
  const ours = decideJob(delivery.name, { ...delivery.payload, action: 'queued' }, config);
  if (ours.result !== 'dispatch') return undefined;
  try {
    await jobStates.record(key, stateOf(delivery.payload.workflow_job, status));
    return status;
  } catch (error) {
    log.warn(
      { deliveryId: delivery.id, jobId: key.jobId, err: error },
      "could not record the job's state: the broker will ask GitHub",
    );
    return undefined;
  }
}

function jobKeyOf(payload: Delivery['payload']): JobKey | undefined {
  const [owner, repo] = (payload.repository?.full_name ?? '').split('/');
  const jobId = payload.workflow_job?.id;
  return owner && repo && jobId ? { owner, repo, jobId } : undefined;
}

function stateOf(job: Delivery['payload']['workflow_job'], status: JobStatus): JobState {
  // A queued job has no runner yet, whatever the payload's runner fields hold.
  const runnerName = status === 'queued' ? undefined : job?.runner_name;
  return {
    status,
    ...(runnerName ? { runnerName } : {}),
    ...(job?.conclusion ? { conclusion: job.conclusion } : {}),
  };
}

type Plan =
  | { readonly request: RunnerRequest; readonly profile: RunnerProfile; readonly why: string }
  | { readonly code: ReasonCode; readonly reason: string };

function planDelivery(delivery: Delivery, config: WebhookConfig): Plan {
  const decision = decideJob(delivery.name, delivery.payload, config);
  if (decision.result === 'ignored') return { code: decision.code, reason: decision.reason };
  try {
    const request = buildRunnerRequest(delivery.payload, decision.profile, delivery.id);
    return { request, profile: decision.profile, why: decision.reason };
  } catch (error) {
    // A signed payload that lacks what a runner needs (no installation, say): redelivery won't help.
    return { code: 'incomplete-payload', reason: (error as Error).message };
  }
}
