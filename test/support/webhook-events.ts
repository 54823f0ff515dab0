import { createHmac, randomUUID } from 'node:crypto';
import examples from '@octokit/webhooks-examples';

export const TEST_SECRET = 'test-webhook-secret-5f1c9d';

type Example = Record<string, unknown> & { action?: string };

/** A real payload from @octokit/webhooks-examples: the first of `event` with `action`. */
export function examplePayload(event: string, action?: string): Example {
  const entry = (examples as unknown as { name: string; examples: Example[] }[]).find(
    (e) => e.name === event,
  );
  const payload = entry?.examples.find(
    (candidate) => action === undefined || candidate.action === action,
  );
  if (!payload) throw new Error(`no example for ${event}.${action}`);
  return structuredClone(payload);
}

/** The real queued example (it has an installation), edited to be one of ours by default. */
export function queuedJob(
  edit: { labels?: string[]; private?: boolean; fullName?: string } = {},
): Example {
  const payload = examplePayload('workflow_job', 'queued') as Example & {
    workflow_job: { labels: string[] };
    repository: { private: boolean; full_name: string; name: string; owner: { login: string } };
  };
  payload.workflow_job.labels = edit.labels ?? ['self-hosted', 'lambda-runner'];
  payload.repository.private = edit.private ?? true;
  if (edit.fullName) {
    const [owner = '', name = ''] = edit.fullName.split('/');
    Object.assign(payload.repository, { full_name: edit.fullName, name });
    payload.repository.owner.login = owner;
  }
  return payload;
}

export function sign(body: string, secret = TEST_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export type Shape = 'v1' | 'v2' | 'url';

export interface DeliveryOptions {
  readonly event?: string;
  readonly shape?: Shape;
  readonly base64?: boolean;
  readonly form?: boolean;
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string;
  readonly deliveryId?: string;
}

/** A signed delivery of `payload` as API Gateway v1, HTTP API v2 or a Function URL would pass it. */
export function delivery(payload: unknown, options: DeliveryOptions = {}) {
  const form = options.form === true;
  const json = JSON.stringify(payload);
  const body = options.body ?? (form ? `payload=${encodeURIComponent(json)}` : json);
  const sent = options.base64 ? Buffer.from(body).toString('base64') : body;
  return httpEvent(options.shape ?? 'v2', headersFor(body, options), sent, options.base64 === true);
}

function headersFor(body: string, options: DeliveryOptions): Record<string, string | undefined> {
  return {
    'Content-Type': options.form ? 'application/x-www-form-urlencoded' : 'application/json',
    'X-GitHub-Event': options.event ?? 'workflow_job',
    'X-GitHub-Delivery': options.deliveryId ?? randomUUID(),
    'X-Hub-Signature-256': sign(body),
    'User-Agent': 'GitHub-Hookshot/test',
    ...options.headers,
  };
}

export function httpEvent(
  shape: Shape,
  headers: Record<string, string | undefined>,
  body: string,
  isBase64Encoded: boolean,
) {
  const defined = Object.fromEntries(
    Object.entries(headers).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  if (shape === 'v1') {
    return {
      resource: '/api/github/webhooks',
      path: '/api/github/webhooks',
      httpMethod: 'POST',
      headers: defined,
      multiValueHeaders: Object.fromEntries(Object.entries(defined).map(([k, v]) => [k, [v]])),
      body,
      isBase64Encoded,
      requestContext: { stage: 'test' },
    };
  }
  const lower = Object.fromEntries(Object.entries(defined).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    version: '2.0',
    routeKey: shape === 'url' ? '$default' : 'POST /api/github/webhooks',
    rawPath: shape === 'url' ? '/' : '/api/github/webhooks',
    rawQueryString: '',
    headers: lower,
    body,
    isBase64Encoded,
    requestContext: {
      http: { method: 'POST', path: '/api/github/webhooks' },
      domainName:
        shape === 'url' ? 'x.lambda-url.us-east-1.on.aws' : 'x.execute-api.us-east-1.amazonaws.com',
    },
  };
}
