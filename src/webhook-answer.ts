import { LambdaRunnerError } from './errors';
import type { DeliveryOutcome } from './handle-delivery';

export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A JSON answer; the body always carries `result` so GitHub's delivery log shows what happened. */
export function answer(statusCode: number, body: Record<string, unknown>): HttpAnswer {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/** 202 when a runner was dispatched, 200 with the reason when the delivery was ignored. */
export function answerOutcome(outcome: DeliveryOutcome | undefined): HttpAnswer {
  if (!outcome) return answer(200, { result: 'ignored', reason: 'no decision was made' });
  return answer(outcome.result === 'dispatched' ? 202 : 200, { ...outcome });
}

/**
 * Maps an error out of Probot's `verifyAndReceive` to an answer: a signature mismatch is the
 * sender's fault (401), invalid JSON too (400); our own errors carry their status (503 for a
 * failed dispatch); anything else is a 500.
 */
export function answerError(error: unknown): HttpAnswer {
  const causes = flatten(error);
  const ours = causes.find(
    (cause): cause is LambdaRunnerError => cause instanceof LambdaRunnerError,
  );
  if (ours) return answer(ours.statusCode, { result: 'error', reason: ours.message });
  const text = causes.map((cause) => cause.message).join('\n');
  if (/signature does not match/i.test(text)) {
    return answer(401, { result: 'rejected', reason: 'signature does not match' });
  }
  if (/Invalid JSON/.test(text))
    return answer(400, { result: 'rejected', reason: 'body is not JSON' });
  return answer(500, { result: 'error', reason: 'internal error; see the webhook logs' });
}

function flatten(error: unknown): Error[] {
  if (!(error instanceof Error)) return [new Error(String(error))];
  // Octokit's AggregateError is iterable over its causes; Node's own keeps them in `errors`.
  const inner = Symbol.iterator in error ? [...(error as unknown as Iterable<unknown>)] : [];
  const listed = Array.isArray((error as { errors?: unknown }).errors)
    ? (error as unknown as { errors: unknown[] }).errors
    : [];
  return [
    error,
    ...[...inner, ...listed].filter((cause): cause is Error => cause instanceof Error),
  ];
}

/** The first underlying error's name, message and stack, for a log line without the payload. */
export function rootCause(error: unknown): { type: string; message: string; stack?: string } {
  const causes = flatten(error);
  const cause = causes[1] ?? causes[0] ?? new Error(String(error));
  return { type: cause.name, message: cause.message, stack: cause.stack };
}
