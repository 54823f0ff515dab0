import { Octokit } from '@octokit/core';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';

// deploy's reading of GitHub's rule, shared by deploy, runner-update, status and this check.
import * as release from '../../deploy/runner-release';

export interface RunnerCurrencyInput {
  /** The runner release the stage's images were built from (its lock). */
  readonly runnerVersion: string;
  readonly profiles: readonly { readonly name: string }[];
  /** github.com's API, or a mirror of actions/runner's releases. */
  readonly releasesApiUrl: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: number;
  readonly request?: release.Request;
}

/**
 * The broker's daily look at the runner release: how many days the stage's runner is behind the
 * first newer release GitHub published (GitHub stops sending jobs at 30), as `RunnerDaysBehind`
 * for each profile, so its alarm fires at 20 with time left to update.
 */
export async function checkRunnerCurrency(input: RunnerCurrencyInput) {
  const request = input.request ?? new Octokit({ baseUrl: input.releasesApiUrl }).request;
  const releases = await release.fetchReleases(request as release.Request);
  const daysBehind = release.daysBehind(input.runnerVersion, releases, input.now);
  for (const profile of input.profiles) {
    const single = input.metrics.singleMetric();
    single.addDimensions({ profile: profile.name });
    single.addMetric('RunnerDaysBehind', MetricUnit.Count, daysBehind);
  }
  const latest = releases[0]?.version;
  input.log.info(
    { runnerVersion: input.runnerVersion, latest, daysBehind },
    daysBehind > 0 ? 'runner release behind' : 'runner release current',
  );
  return { runnerVersion: input.runnerVersion, latest, daysBehind };
}

/**
 * Whether a schedule event is the day's first: the one in the first quarter hour of the UTC
 * day (the schedule runs every 15 minutes, so exactly one falls there).
 */
export function isDailyRun(event: unknown): boolean {
  const time = Date.parse(String((event as { time?: unknown }).time ?? ''));
  if (!Number.isFinite(time)) return false;
  const at = new Date(time);
  return at.getUTCHours() === 0 && at.getUTCMinutes() < 15;
}
