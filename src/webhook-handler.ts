import { createLambdaFunction } from '@probot/adapter-aws-lambda-serverless';
import pino, { type Logger } from 'pino';
import { Probot } from 'probot';
import { createApp } from '../app';
import { createAwsClients, type AwsClients } from './aws-clients';
import { loadWebhookConfig, type WebhookConfig } from './config';
import { createLambdaDispatch, createQueueDispatch, type Dispatch } from './dispatch';
import { LOG_LEVELS, type Env } from './env';
import { beforeDeadline } from './deadline';
import { DispatchError } from './errors';
import { deriveSealKey } from './seal';
import { dynamoJobStates } from './job-states';
import type { DeliveryOutcome } from './handle-delivery';
import { createMetrics, recordDecision, type Metrics } from './metrics';
import { answer, answerError, answerOutcome, rootCause, type HttpAnswer } from './webhook-answer';
import {
  payloadText,
  toWebhookRequest,
  type HttpEvent,
  type WebhookRequest,
} from './webhook-event';

export interface WebhookHandlerOptions {
  readonly env?: Env;
  readonly clients?: Pick<AwsClients, 'lambda' | 'secretsManager'> &
    Partial<Pick<AwsClients, 'sqs' | 'dynamodb'>>;
  readonly log?: Logger;
  /** Overrides how runners start; by default an async Lambda invoke (or in-process when local). */
  readonly dispatch?: Dispatch;
  readonly metrics?: Metrics;
}

interface Ready {
  readonly probot: Probot;
  readonly receiveJson: (event: object) => Promise<unknown>;
}

/**
 * Builds the webhook Lambda handler. Configuration, the secret and Probot are loaded once per
 * container, on the first request; each request is checked, verified and received, and always
 * answered per the contract (401 bad signature, 400 malformed, 200 ignored, 202 dispatched,
 * 5xx only when dispatch failed), never by a thrown error that API Gateway would turn into a 5xx.
 */
export function createWebhookHandler(options: WebhookHandlerOptions = {}) {
  const outcomes = new Map<string, DeliveryOutcome>();
  const env = options.env ?? process.env;
  // Until the configuration is read (and a bad LOG_LEVEL reported as a 500 with a clear line),
  // log at a level pino surely knows: an unknown one would make pino throw here, for ever.
  const log = options.log ?? pino({ level: knownLevel(env.LOG_LEVEL) });
  const metrics = options.metrics ?? createMetrics('webhook');
  let ready: Promise<Ready> | undefined;
  const getReady = () => {
    ready ??= prepare({ ...options, env, log, metrics }, (id, outcome) =>
      outcomes.set(id, outcome),
    ).catch((error) => {
      ready = undefined; // a transient failure (a secret read) is retried on the next request
      throw error;
    });
    return ready;
  };

  return async (
    event: HttpEvent | null | undefined,
    context?: { getRemainingTimeInMillis?: () => number },
  ): Promise<HttpAnswer> => {
    const request = toWebhookRequest(event);
    const refusal = refuse(request);
    if (refusal) {
      return reject(
        { log, metrics },
        request.headers['x-github-delivery'],
        refusal.status,
        refusal.reason,
      );
    }
    const id = request.headers['x-github-delivery'] ?? '';
    try {
      // Out of time, a 503 of its own: GitHub marks the delivery failed and the schedule
      // redelivers it. A timed-out function would leave the answer to the gateway (serverless
      // offline answers a timed-out HTTP API function with 200, hiding the failure).
      await beforeDeadline(
        receive(await getReady(), request),
        context?.getRemainingTimeInMillis?.(),
        DEADLINE_MARGIN_MS,
        () =>
          new DispatchError(
            'lambda-runner: the webhook ran out of time before the job was handed on; GitHub can redeliver it',
          ),
      );
      return answerOutcome(outcomes.get(id));
    } catch (error) {
      const result = answerError(error);
      const { reason } = JSON.parse(result.body) as { reason: string };
      if (result.statusCode < 500) return reject({ log, metrics }, id, result.statusCode, reason);
      // The cause, not the error object: Probot's errors carry the whole delivery with them.
      log.error(
        { deliveryId: id, decision: 'failed', reason, cause: rootCause(error) },
        'delivery failed',
      );
      return result;
    } finally {
      outcomes.delete(id);
    }
  };
}

/**
 * How long before the function's timeout the webhook gives up and answers 503: two seconds, so
 * the answer is out before the timeout even when the function's thread runs late (a loaded
 * machine), and still inside GitHub's ten.
 */
export const DEADLINE_MARGIN_MS = 2000;

function knownLevel(level: string | undefined): string {
  const wanted = level?.trim() ?? '';
  return (LOG_LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';
}

/** A client fault: one log line, one metric, and the answer. */
function reject(
  { log, metrics }: { log: Logger; metrics: Metrics },
  deliveryId: string | undefined,
  status: number,
  reason: string,
): HttpAnswer {
  log.info({ deliveryId, decision: 'rejected', reason }, 'delivery rejected');
  recordDecision(metrics, 'rejected', status === 401 ? 'bad-signature' : 'malformed-request');
  return answer(status, { result: 'rejected', reason });
}

function refuse(request: WebhookRequest): { status: number; reason: string } | undefined {
  if (request.method !== 'POST') return { status: 405, reason: 'webhook deliveries are POSTed' };
  if (!request.rawBody) return { status: 400, reason: 'empty body' };
  if (!request.headers['x-github-event'] || !request.headers['x-github-delivery']) {
    return { status: 400, reason: 'missing X-GitHub-Event or X-GitHub-Delivery header' };
  }
  if (!/^sha256=[0-9a-f]{64}$/i.test(request.headers['x-hub-signature-256'] ?? '')) {
    return { status: 401, reason: 'missing or malformed X-Hub-Signature-256 header' };
  }
  return undefined;
}

async function receive({ probot, receiveJson }: Ready, request: WebhookRequest): Promise<void> {
  const text = payloadText(request) ?? '';
  // Only a JSON object is a delivery; Probot would fail on `1` or `null` with a 500.
  if (!/^\s*\{/.test(text)) throw new Error('Invalid JSON');
  if (text === request.rawBody) {
    // JSON delivery: the adapter hands it to Probot, which verifies the signature and receives it.
    await receiveJson({
      httpMethod: 'POST',
      path: request.path,
      headers: request.headers,
      body: text,
    });
    return;
  }
  // Form-encoded delivery: GitHub signs the raw form body, so verify that, then receive the JSON.
  const signature = request.headers['x-hub-signature-256'] ?? '';
  if (!(await probot.webhooks.verify(request.rawBody, signature))) {
    throw new Error('signature does not match event payload and secret');
  }
  await probot.webhooks.receive({
    id: request.headers['x-github-delivery'] ?? '',
    name: request.headers['x-github-event'] as never,
    payload: parseObject(text) as never,
  });
}

function parseObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('Invalid JSON');
  }
}

/** How jobs reach the broker: its dispatch queue (deployed), or an invoke (the local stack). */
function brokerDispatch(
  config: WebhookConfig,
  clients: NonNullable<WebhookHandlerOptions['clients']>,
  sealKey: Buffer,
): Dispatch | undefined {
  if (config.dispatch === 'queue')
    return createQueueDispatch({
      sqs: clients.sqs ?? createAwsClients().sqs,
      queueUrl: config.dispatchQueueUrl ?? '',
      sealKey,
    });
  if (config.dispatch === 'lambda')
    return createLambdaDispatch({
      lambda: clients.lambda,
      functionName: config.brokerFunctionName ?? '',
      sealKey,
    });
  return undefined;
}

async function prepare(
  options: WebhookHandlerOptions,
  onOutcome: (id: string, outcome: DeliveryOutcome) => void,
): Promise<Ready> {
  const config: WebhookConfig = loadWebhookConfig(options.env);
  const clients = options.clients ?? createAwsClients();
  const secret = await config.webhookSecret.resolve(clients.secretsManager);
  const log = options.log ?? pino({ level: config.logLevel });
  // Probot 13 wants App credentials unless it is given a token. The webhook side never calls
  // GitHub, so it must not hold the App's private key: a placeholder token satisfies Probot,
  // and any accidental GitHub call would fail loudly (401) instead of acting as the App.
  const probot = new Probot({ secret, githubToken: 'webhook-side-makes-no-github-calls', log });
  const dispatch = options.dispatch ?? brokerDispatch(config, clients, deriveSealKey(secret));
  const jobStates = config.controlTable
    ? dynamoJobStates({
        dynamodb: clients.dynamodb ?? createAwsClients().dynamodb,
        tableName: config.controlTable,
      })
    : undefined;
  const app = createApp({ config, dispatch, onOutcome, metrics: options.metrics, jobStates });
  const receiveJson = createLambdaFunction(app, { probot }) as unknown as Ready['receiveJson'];
  return { probot, receiveJson };
}
