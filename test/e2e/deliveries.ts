import { delivery, queuedJob } from '../support/webhook-events';

/** A queued `workflow_job` for `acme/app`, edited to a job id, labels and installation. */
export function queuedJobFor(
  jobId: number,
  edit: { labels?: string[]; installation?: number } = {},
): { workflow_job: { id: number; run_attempt: number }; installation: { id: number } } {
  const payload = queuedJob({
    labels: edit.labels ?? ['self-hosted', 'lambda-runner'],
    fullName: 'acme/app',
  }) as { workflow_job: { id: number; run_attempt: number }; installation: { id: number } };
  payload.workflow_job.id = jobId;
  payload.workflow_job.run_attempt = 1;
  payload.installation.id = edit.installation ?? 77;
  return payload;
}

/** Posts one signed delivery to the webhook; the answer's status and JSON body. */
export async function postDelivery(
  webhookUrl: string,
  payload: unknown,
  deliveryId?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const event = delivery(payload, { deliveryId }) as {
    headers: Record<string, string>;
    body: string;
  };
  const response = await fetch(webhookUrl, {
    method: 'POST',
    headers: event.headers,
    body: event.body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * GitHub marks a delivery that got no 2xx in time as failed, and it is delivered again with the
 * same id (the schedule's redelivery). A loaded machine can make the local webhook miss its
 * timeout: this delivers again as GitHub would, up to six attempts, and says how it went.
 */
export async function deliverUntilAnswered(
  webhookUrl: string,
  payload: unknown,
  deliveryId: string,
): Promise<{ attempts: number; status: number }> {
  let status = 0;
  for (let attempt = 1; attempt <= 6; attempt++) {
    status = await postDelivery(webhookUrl, payload, deliveryId)
      .then((answer) => answer.status)
      .catch(() => 0);
    if (status >= 200 && status < 300) return { attempts: attempt, status };
  }
  return { attempts: 6, status };
}
