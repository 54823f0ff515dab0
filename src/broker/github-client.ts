import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import type { Logger } from 'pino';
import type { AppCredentials } from './app-credentials';
import { limitedUntil, pointsOf, type Pace } from './pace';

const RunnerOctokit = Octokit.plugin(pacePlugin, retry, throttling);
export type GitHubClient = InstanceType<typeof RunnerOctokit>;

export interface GitHubClientOptions {
  readonly credentials: AppCredentials;
  readonly baseUrl: string;
  readonly log: Logger;
  /** Told the `x-ratelimit-remaining` of every answer, for the rate-limit metric. */
  readonly onRateLimit?: (remaining: number) => void;
  /** Milliseconds per "second" of retry back-off; tests shrink it. */
  readonly retryAfterBaseValue?: number;
  /** The pace every broker container keeps per caller (see pace.ts); none: no shared waits. */
  readonly pace?: Pace;
  readonly now?: () => number;
  /** How requests reach GitHub (a simulation's GitHub); the platform's fetch by default. */
  readonly fetch?: typeof fetch;
}

/**
 * Returns the installation-scoped client for an installation, building each once: the App's
 * installation token is minted on first use and cached by the client while the container is
 * warm, so a second job on the same container mints no new token. 5xx and 429 are retried with
 * back-off, rate limits wait for their reset; 409 (a runner name already taken) is never retried.
 */
export function createGitHubClients(
  options: GitHubClientOptions,
): (installationId: number) => GitHubClient {
  const clients = new Map<number, GitHubClient>();
  return (installationId) => {
    let client = clients.get(installationId);
    if (!client) {
      client = firstMintAlone(buildClient(options, installationId));
      clients.set(installationId, client);
    }
    return client;
  };
}

/**
 * Requests wait for the client's first installation token before they take a throttle slot.
 * The throttle lets 10 requests run at once, and a request waiting for its token holds its slot
 * while the token's own request needs one: 10 concurrent first requests on a cold client (local
 * mode serves events concurrently) would each hold a slot and wait for ever.
 */
function firstMintAlone(client: GitHubClient): GitHubClient {
  let minted: Promise<unknown> | undefined;
  client.hook.before('request', async (options) => {
    if (String(options.url).endsWith('/access_tokens')) return;
    minted ??= client.auth({ type: 'installation' }).catch((error: unknown) => {
      minted = undefined; // the next request tries again
      throw error;
    });
    await minted;
  });
  return client;
}

/** The App's own client (JWT): for App-level routes such as listing installations. */
export function createAppClient(options: GitHubClientOptions): GitHubClient {
  return buildClient(options);
}

/** Rate-limited retries of one request, each after the wait GitHub asked for. */
const LIMITED_ATTEMPTS = 3;

/**
 * Every request first waits for its caller's pace (a window GitHub opened for this caller,
 * seen by every container); a 403 or 429 that asks to wait records the window for all and is
 * tried again once it has passed, three times at most. A success that spent the primary budget
 * (`x-ratelimit-remaining` at the reserve) records its reset the same way. A plugin of its own,
 * applied before the retry and throttling plugins, so it runs innermost: the window is looked at
 * right before the request goes, after any wait in the throttling plugin's queue.
 */
function pacePlugin(octokit: Octokit, options: object) {
  const paced = (options as { paced?: PacedRequests }).paced;
  if (!paced) return;
  octokit.hook.wrap('request', (request, requestOptions) =>
    pacedRequest(request, requestOptions, paced),
  );
}

interface PacedRequests {
  readonly pace: Pace;
  readonly caller: string;
  readonly now: () => number;
}

async function pacedRequest<T>(
  request: (options: never) => T | Promise<T>,
  options: { method?: string },
  context: PacedRequests,
): Promise<T> {
  const { pace, caller, now } = context;
  for (let attempt = 1; ; attempt += 1) {
    await pace.gate(caller);
    await pace.spend(caller, pointsOf(options.method));
    try {
      return await sendAndRecord(request, options, context);
    } catch (error) {
      const until = limitedUntil(answerOf(error), now());
      if (until === undefined) throw error;
      await pace.hold(caller, until);
      if (attempt >= LIMITED_ATTEMPTS) throw error;
    }
  }
}

/** Sends the request; an answer that says the primary budget is (nearly) spent is held for all. */
async function sendAndRecord<T>(
  request: (options: never) => T | Promise<T>,
  options: { method?: string },
  { pace, caller, now }: { pace: Pace; caller: string; now: () => number },
): Promise<T> {
  const response = await request(options as never);
  const headers = (response as { headers: Record<string, unknown> }).headers;
  const spent = limitedUntil({ status: 403, headers: primaryOnly(headers) }, now());
  if (spent !== undefined) await pace.hold(caller, spent);
  return response;
}

function answerOf(error: unknown) {
  const answer = error as { status?: number; message?: string; response?: { headers?: never } };
  return { status: answer.status, message: answer.message, headers: answer.response?.headers };
}

/**
 * Requests of the primary budget kept back for calls already on their way: brokers run many
 * requests at once, and those sent before GitHub's answer said the budget was nearly spent would
 * otherwise be refused inside the window the last of them opened.
 */
export const PRIMARY_RESERVE = 25;

/** The primary-limit headers of a successful answer, when they say the budget is (nearly) spent. */
function primaryOnly(headers: Record<string, unknown>): Record<string, string> | undefined {
  const remaining = Number(headers['x-ratelimit-remaining']);
  if (headers['x-ratelimit-remaining'] === undefined || !(remaining <= PRIMARY_RESERVE))
    return undefined;
  return {
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': String(headers['x-ratelimit-reset']),
  };
}

function buildClient(options: GitHubClientOptions, installationId?: number): GitHubClient {
  const { credentials, baseUrl, log, retryAfterBaseValue = 1000 } = options;
  const octokitLog = {
    debug: (message: string) => log.debug({ component: 'octokit' }, message),
    info: (message: string) => log.debug({ component: 'octokit' }, message),
    warn: (message: string) => log.warn({ component: 'octokit' }, message),
    error: (message: string) => log.error({ component: 'octokit' }, message),
  };
  const onLimit =
    (kind: string) =>
    (after: number, request: { method: string; url: string }, _o: unknown, count: number) => {
      log.warn(
        { retryAfterSeconds: after, method: request.method, url: request.url, attempt: count + 1 },
        `GitHub ${kind} limit`,
      );
      // Retried by the pace (paced), which every container sees, not by this container alone.
      return !options.pace && count < 3;
    };
  const client = new RunnerOctokit({
    baseUrl,
    log: octokitLog,
    ...(options.pace
      ? {
          paced: {
            pace: options.pace,
            caller: installationId
              ? `installation-${installationId}`
              : `app-${options.credentials.appId}`,
            now: options.now ?? Date.now,
          },
        }
      : {}),
    ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
    authStrategy: createAppAuth,
    auth: {
      appId: credentials.appId,
      privateKey: credentials.privateKey,
      ...(installationId ? { installationId } : {}),
    },
    retry: {
      // 429 is a rate limit: the pace waits what GitHub asks, never plugin-retry's back-off.
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451, ...(options.pace ? [429] : [])],
      retryAfterBaseValue,
    },
    throttle: {
      onRateLimit: onLimit('rate'),
      onSecondaryRateLimit: onLimit('secondary rate'),
      retryAfterBaseValue,
      // A runner makes one or two writes per job; the default one-second spacing between writes
      // only delays the job, and each container has its own limiter anyway.
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }),
    },
  });
  client.hook.after('request', (response) => {
    const remaining = Number(response.headers['x-ratelimit-remaining']);
    if (Number.isFinite(remaining)) options.onRateLimit?.(remaining);
  });
  return client;
}
