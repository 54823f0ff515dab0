import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { conditionFailed } from './control-table';
import { RateLimitedError } from './errors';

/**
 * One pace for every broker container. When GitHub tells one caller to wait (a 403 or 429 with
 * `retry-after`, or a primary limit spent, `x-ratelimit-remaining: 0` until
 * `x-ratelimit-reset`), the time it may call again is written where every container reads it
 * before each call: the control table's `pace#<caller>` item (an installation, or the App for
 * its JWT calls). No container calls that caller's GitHub inside a window GitHub opened.
 *
 * A wait up to `maxWaitMs` is slept through; a longer one (an hourly reset) throws a retryable
 * {@link RateLimitedError}, so the event goes back to Lambda's retries and the dead-letter queue
 * instead of holding a function for an hour.
 */
export interface Pace {
  /** Resolves when `caller` may call GitHub; throws when the wait is longer than the bound. */
  gate(caller: string): Promise<void>;
  /** GitHub told `caller` to wait until `untilMs`: every container waits as long. */
  hold(caller: string, untilMs: number): Promise<void>;
  /**
   * Takes `points` of the caller's budget for this minute (GitHub's secondary limit: 900 points
   * a minute, a GET 1, a write 5), shared by every container; when the minute's budget is spent,
   * waits for the next minute as for a window GitHub opened.
   */
  spend(caller: string, points: number): Promise<void>;
}

export interface PaceOptions {
  /** The control table; without it the pace is this container's alone (local mode). */
  readonly dynamodb?: Pick<DynamoDBClient, 'send'>;
  readonly tableName?: string;
  /** The longest wait slept through in a function (default 60 s). */
  readonly maxWaitMs?: number;
  /** Points each caller may spend a minute, all containers together; 0: no budget. */
  readonly pointsPerMinute?: number;
  readonly log: Logger;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const LIFETIME_S = 2 * 3600;

/** How far ahead a caller books minutes: two hours of GitHub's points, at most. */
const MAX_BOOKING_MINUTES = 120;

export function createPace(options: PaceOptions): Pace {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const local = new Map<string, number>();
  const { dynamodb, tableName, log } = options;
  const key = (caller: string) => ({ pk: { S: `pace#${caller}` }, sk: { S: 'wait' } });

  async function waitUntil(caller: string): Promise<number> {
    const mine = local.get(caller) ?? 0;
    if (!dynamodb || !tableName) return mine;
    try {
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: key(caller), ConsistentRead: true }),
      );
      return Math.max(mine, Number(Item?.waitUntil?.N ?? 0));
    } catch (error) {
      // The table unreadable is no reason to fail a job: this container's own knowledge stands.
      log.warn(
        { err: error, caller },
        'could not read the shared GitHub pace: going by this container',
      );
      return mine;
    }
  }

  /** Sleeps until `until`, or throws when that is longer than a function should sleep. */
  async function waitOut(caller: string, until: number, why: string) {
    const wait = until - now();
    if (wait > maxWaitMs)
      throw new RateLimitedError(
        `lambda-runner: ${why}: ${caller} waits ${Math.ceil(wait / 1000)} s: the event is retried later`,
        until,
      );
    log.info({ caller, waitMs: wait }, 'waiting for GitHub rate limit window');
    await sleep(wait);
  }

  const budget = pointsBudget({ ...options, now });

  async function gate(caller: string): Promise<void> {
    for (;;) {
      const until = await waitUntil(caller);
      if (until - now() <= 0) return;
      await waitOut(caller, until, 'GitHub asked to wait');
    }
  }

  return {
    gate,

    async spend(caller, points) {
      for (;;) {
        const minute = Math.floor(now() / 60_000);
        if (await budget.take(caller, minute, points)) return;
        const booked = await budget.book(caller, minute + 1, points);
        await waitOut(caller, booked * 60_000, "this minute's points are spent");
        // While this container slept, another may have heard GitHub ask to wait.
        await gate(caller);
      }
    },

    async hold(caller, untilMs) {
      local.set(caller, Math.max(local.get(caller) ?? 0, untilMs));
      log.warn(
        { caller, waitUntil: new Date(untilMs).toISOString() },
        'GitHub rate limit: every broker waits',
      );
      if (!dynamodb || !tableName) return;
      try {
        // Only ever later: a shorter wait never shortens a longer one another container wrote.
        await dynamodb.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(caller),
            UpdateExpression: 'SET waitUntil = :until, expiresAt = :expires',
            ConditionExpression: 'attribute_not_exists(waitUntil) OR waitUntil < :until',
            ExpressionAttributeValues: {
              ':until': { N: String(untilMs) },
              ':expires': { N: String(Math.floor(untilMs / 1000) + LIFETIME_S) },
            },
          }),
        );
      } catch (error) {
        // A later window already there wins; an unwritable table leaves this container's own.
        if (!conditionFailed(error))
          log.warn({ err: error, caller }, 'could not share the GitHub rate limit window');
      }
    },
  };
}

/**
 * The points every container spends per caller and minute: a counter item per minute in the
 * control table (`points#<caller>`, sort key the minute), raised with a conditional write so no
 * two containers together pass the budget; without the table (or when it fails), this
 * container's own count.
 */
function pointsBudget(options: PaceOptions & { now: () => number }) {
  const limit = options.pointsPerMinute ?? 0;
  const local = new Map<string, number>();
  const { dynamodb, tableName, log } = options;
  /**
   * Adds the points to the minute's `used` (taken now) or `booked` (waited for) count when it
   * stays within the budget: false when it would not. Other failures are thrown.
   */
  const addPoints = async (
    field: 'used' | 'booked',
    at: { caller: string; minute: number },
    points: number,
  ) => {
    try {
      await dynamodb!.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: `points#${at.caller}` }, sk: { S: String(at.minute) } },
          UpdateExpression: `ADD ${field} :points SET expiresAt = :expires`,
          ConditionExpression: `attribute_not_exists(${field}) OR ${field} <= :room`,
          ExpressionAttributeValues: {
            ':points': { N: String(points) },
            ':room': { N: String(limit - points) },
            ':expires': { N: String(at.minute * 60 + LIFETIME_S) },
          },
        }),
      );
      return true;
    } catch (error) {
      if (conditionFailed(error)) return false;
      throw error;
    }
  };
  /** True when `minute` had room for the points, now booked; a failing table books nothing. */
  const bookMinute = (caller: string, minute: number, points: number) =>
    addPoints('booked', { caller, minute }, points).catch((error: unknown) => {
      log.warn({ err: error, caller }, 'could not book GitHub points: waiting for the next minute');
      return true;
    });
  const takeLocally = (caller: string, minute: number, points: number) => {
    const slot = `${caller}#${minute}`;
    const used = local.get(slot) ?? 0;
    if (used + points > limit && used > 0) return false;
    local.set(slot, used + points);
    return true;
  };
  const frontier = new Map<string, number>();
  return {
    /**
     * A spent minute's caller books the first later minute whose bookings leave room for its
     * points (`booked`, beside `used`, on that minute's item), and waits for it: a burst queues
     * up minute by minute instead of every waiting job trying again each minute (each try is a
     * receive of its message, and a message received too often is dead-lettered). The search
     * starts where this container last found room.
     */
    async book(caller: string, from: number, points: number): Promise<number> {
      if (limit <= 0 || !dynamodb || !tableName) return from;
      const start = Math.max(from, frontier.get(caller) ?? 0);
      for (let minute = start; minute < start + MAX_BOOKING_MINUTES; minute += 1) {
        if (await bookMinute(caller, minute, points)) {
          frontier.set(caller, minute);
          return minute;
        }
      }
      return start + MAX_BOOKING_MINUTES;
    },
    async take(caller: string, minute: number, points: number): Promise<boolean> {
      if (limit <= 0) return true;
      if (!dynamodb || !tableName) return takeLocally(caller, minute, points);
      return addPoints('used', { caller, minute }, points).catch((error: unknown) => {
        log.warn({ err: error, caller }, 'could not take GitHub points from the shared budget');
        return takeLocally(caller, minute, points);
      });
    },
  };
}

/** What GitHub counts a request as: 1 point for a read, 5 for a write. */
export function pointsOf(method: string | undefined): number {
  return ['GET', 'HEAD', 'OPTIONS'].includes((method ?? 'GET').toUpperCase()) ? 1 : 5;
}

/** GitHub's answer, as much of it as says whether and how long to wait. */
interface LimitAnswer {
  readonly status?: number;
  readonly message?: string;
  readonly headers?: Record<string, string | number | undefined>;
}

/**
 * Until when GitHub asks the caller to wait, from a refused answer, or undefined when the
 * answer is no rate limit. Secondary limits (403 or 429 with `retry-after`, or a 403 saying
 * "secondary rate limit") and primary ones (`x-ratelimit-remaining: 0`) alike.
 */
export function limitedUntil(answer: LimitAnswer, now: number): number | undefined {
  if (answer.status !== 403 && answer.status !== 429) return undefined;
  const headers = answer.headers ?? {};
  return afterRetry(headers, now) ?? afterReset(headers, now) ?? withoutHeader(answer, now);
}

function afterRetry(headers: NonNullable<LimitAnswer['headers']>, now: number) {
  const seconds = Number(headers['retry-after']);
  return headers['retry-after'] !== undefined && Number.isFinite(seconds) && seconds >= 0
    ? now + seconds * 1000
    : undefined;
}

function afterReset(headers: NonNullable<LimitAnswer['headers']>, now: number) {
  if (String(headers['x-ratelimit-remaining']) !== '0') return undefined;
  const reset = Number(headers['x-ratelimit-reset']);
  // One second past the reset, as GitHub's guidance says.
  return Number.isFinite(reset) ? Math.max(now, reset * 1000 + 1000) : undefined;
}

/** GitHub's guidance without a header: wait at least a minute. */
function withoutHeader(answer: LimitAnswer, now: number) {
  return answer.status === 429 || /secondary rate limit/i.test(answer.message ?? '')
    ? now + 60_000
    : undefined;
}
