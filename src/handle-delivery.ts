import type { Logger } from 'pino';
import type { WebhookConfig } from './config';
import { decideJob, type JobEvent } from './decide-job';
import type { Dispatch } from './dispatch';
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
  readonly payload: JobEvent & Parameters<typeof buildRunnerRequest>[0];
}

/**
 * Decides one delivery, dispatches a runner when it is ours, and logs the decision as one line
 * (delivery id, repository, job id, labels, decision, reason). A dispatch failure is logged and
 * rethrown so the edge can answer 5xx and GitHub can redeliver.
 */
export async function handleDelivery(
  delivery: Delivery,
  {
    config,
    dispatch,
    log,
    metrics,
  }: { config: WebhookConfig; dispatch: Dispatch; log: Logger; metrics?: Metrics },
): Promise<DeliveryOutcome> {
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
  if ('reason' in plan) {
    log.info(
      { ...fields, decision: 'ignored', reason: plan.reason, code: plan.code },
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
    { ...fields, decision: 'dispatched', profile: profile.name, reason: plan.why },
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
