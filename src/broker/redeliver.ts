import type { Logger } from 'pino';
import { recordBroker, type Metrics } from '../metrics';
import { RateLimitedError } from './errors';
import type { GitHubClient } from './github-client';

export interface RedeliverOptions {
  /** The App's own client (JWT): hook deliveries are App-level. */
  readonly app: GitHubClient;
  /** How far back to look; older failures are out of reach (see the README). */
  readonly windowMs: number;
  /** Redeliveries per delivery (guid) at most, over its whole life. */
  readonly maxAttempts: number;
  /** GitHub calls one run may make to list the App's deliveries. */
  readonly maxCalls: number;
  /**
   * Redeliveries one run may ask for: as many as it finds failed, up to this (default 150, 750
   * of the App's 900 points a minute). The rest wait for the next run.
   */
  readonly maxRedeliveries?: number;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

export interface RedeliverReport {
  readonly calls: number;
  readonly redelivered: string[];
  readonly dropped: string[];
  readonly exhausted: string[];
  readonly truncated: boolean;
}

interface HookDelivery {
  readonly id: number;
  readonly guid: string;
  readonly delivered_at: string;
  readonly redelivery: boolean;
  readonly status_code: number;
  readonly event: string;
}

/**
 * Asks GitHub to redeliver `workflow_job` deliveries whose every attempt failed (the webhook
 * answered 5xx, or nothing): GitHub never retries them by itself. Walks the App's delivery log
 * back over the window, groups attempts by delivery (guid), and redelivers each failed one
 * that has been redelivered fewer than `maxAttempts` times. A delivery GitHub refuses to
 * redeliver (404, 422) is dropped with a log line. The listing is bounded by `maxCalls`; the
 * redeliveries scale with the failures found, up to `maxRedeliveries`, paced like every call
 * of the App's (a rate-limit window past the sleep bound ends the run's redeliveries early).
 */
export async function redeliverFailed(options: RedeliverOptions): Promise<RedeliverReport> {
  const report: Report = { calls: 0, redelivered: [], dropped: [], exhausted: [] };
  const { deliveries, truncated } = await listWindow(options, report);
  const budget = options.maxRedeliveries ?? 150;
  for (const attempts of groupFailed(deliveries).values()) {
    if (report.redelivered.length + report.dropped.length >= budget)
      return { ...report, truncated: true };
    if (exhausted(attempts, options, report)) continue;
    if ((await redeliver(attempts, options, report)) === 'paused')
      return { ...report, truncated: true };
  }
  return { ...report, truncated };
}

type Report = Omit<RedeliverReport, 'truncated'> & { calls: number };

/** True (and a log line) when the delivery was redelivered as often as allowed. */
function exhausted(attempts: HookDelivery[], options: RedeliverOptions, report: Report) {
  if (attempts.filter((attempt) => attempt.redelivery).length < options.maxAttempts) return false;
  report.exhausted.push(attempts[0]!.guid);
  options.log.warn(
    { guid: attempts[0]!.guid, attempts: attempts.length },
    'delivery failed every redelivery: given up',
  );
  return true;
}

/** Asks GitHub to deliver the latest attempt again; 'paused' when GitHub asked the App to wait. */
async function redeliver(
  attempts: HookDelivery[],
  options: RedeliverOptions,
  report: Report,
): Promise<'done' | 'paused'> {
  const guid = attempts[0]!.guid;
  const latest = attempts.reduce((a, b) => (a.delivered_at > b.delivered_at ? a : b));
  report.calls += 1;
  try {
    await options.app.request('POST /app/hook/deliveries/{delivery_id}/attempts', {
      delivery_id: latest.id,
    });
    report.redelivered.push(guid);
    recordBroker(options.metrics, 'Redeliveries', 'failed-delivery');
    options.log.info(
      { guid, deliveryId: guid, attempt: attempts.length + 1 },
      'failed delivery redelivered',
    );
  } catch (error) {
    // GitHub asked the App to wait longer than a function sleeps: the rest go next run.
    if (error instanceof RateLimitedError) {
      options.log.warn({ guid }, 'redeliveries paused for GitHub rate limit window');
      return 'paused';
    }
    const status = (error as { status?: number }).status;
    if (status !== 404 && status !== 422) throw error;
    report.dropped.push(guid);
    options.log.warn({ guid, status }, 'GitHub refused to redeliver a failed delivery: dropped');
  }
  return 'done';
}

async function listWindow(options: RedeliverOptions, report: { calls: number }) {
  const since = (options.now ?? Date.now)() - options.windowMs;
  const deliveries: HookDelivery[] = [];
  let cursor: string | undefined;
  for (;;) {
    if (report.calls >= options.maxCalls) return { deliveries, truncated: true };
    report.calls += 1;
    const page = await options.app.request('GET /app/hook/deliveries', {
      per_page: 100,
      ...(cursor ? { cursor } : {}),
    });
    const items = page.data as HookDelivery[];
    deliveries.push(...items.filter((item) => Date.parse(item.delivered_at) >= since));
    cursor = nextCursor(page.headers.link, items, since);
    if (!cursor) return { deliveries, truncated: false };
  }
}

/** The next page's cursor, unless this page already reaches back past the window. */
function nextCursor(link: string | undefined, items: HookDelivery[], since: number) {
  const oldest = items.at(-1);
  if (!oldest || Date.parse(oldest.delivered_at) < since) return undefined;
  return /[?&]cursor=([^&>]+)[^>]*>;\s*rel="next"/.exec(link ?? '')?.[1];
}

/** Attempts of each `workflow_job` delivery that never got a 2xx answer, by guid. */
function groupFailed(deliveries: HookDelivery[]): Map<string, HookDelivery[]> {
  const byGuid = new Map<string, HookDelivery[]>();
  for (const delivery of deliveries.filter((item) => item.event === 'workflow_job')) {
    byGuid.set(delivery.guid, [...(byGuid.get(delivery.guid) ?? []), delivery]);
  }
  for (const [guid, attempts] of byGuid) {
    if (attempts.some((attempt) => attempt.status_code >= 200 && attempt.status_code < 300))
      byGuid.delete(guid);
  }
  return byGuid;
}
