import type { Logger } from 'pino';
import type { GitHubClient } from './github-client';

/** Runner names lambda-runner gives: `lambda-<jobId>-<attempt>-<dispatch>`. */
export const RUNNER_NAME = /^lambda-\d+-\d+(-\d+)?$/;
/** The label that carries when a runner was registered (seconds since the epoch). */
export const REGISTERED_LABEL = /^lambda-runner-at-(\d+)$/;

export function registeredLabel(now = Date.now()): string {
  return `lambda-runner-at-${Math.floor(now / 1000)}`;
}

/** When a runner was registered (ms since the epoch), from its label; undefined without one. */
export function registeredAt(runner: { labels?: readonly { name: string }[] }): number | undefined {
  const seconds = (runner.labels ?? [])
    .map((label) => REGISTERED_LABEL.exec(label.name)?.[1])
    .find(Boolean);
  return seconds ? Number(seconds) * 1000 : undefined;
}

export interface JanitorOptions {
  readonly app: GitHubClient;
  readonly installation: (id: number) => GitHubClient;
  readonly scope: 'repo' | 'org';
  /** Older than this and offline: its Lambda (15 minutes at most) is gone. */
  readonly graceMs: number;
  /** Upper bound on GitHub calls in one run. */
  readonly maxCalls: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface JanitorReport {
  readonly calls: number;
  readonly examined: number;
  readonly deleted: string[];
  readonly truncated: boolean;
}

interface ListedRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: { name: string }[];
}

/** Counts GitHub calls and refuses any past the bound. */
class Budget {
  calls = 0;
  truncated = false;
  constructor(private readonly max: number) {}

  async call<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (this.calls >= this.max) {
      this.truncated = true;
      return undefined;
    }
    this.calls += 1;
    return fn();
  }
}

/**
 * Deletes registrations of ours that outlived their Lambda (killed hard: out of memory, the
 * 15-minute wall): a runner named like ours, offline, not busy, registered longer ago than the
 * grace period. Busy, fresh and foreign runners are never touched. Stops at `maxCalls`.
 * Calls per run: 1 (installations) + per installation 1 (token) + 1 (repositories, repo scope)
 * + 1 per repository or org listed + 1 per deletion.
 */
export async function sweepRunners(options: JanitorOptions): Promise<JanitorReport> {
  const budget = new Budget(options.maxCalls);
  const report = { examined: 0, deleted: [] as string[] };
  const listed = await budget.call(() =>
    options.app.request('GET /app/installations', { per_page: 100 }),
  );
  for (const installation of listed?.data ?? []) {
    const client = options.installation(installation.id);
    budget.calls += 1; // the installation token (minted once, then cached)
    for (const base of await scopes(client, installation.account, options.scope, budget)) {
      await sweepScope(client, base, budget, report, options);
    }
  }
  return { calls: budget.calls, truncated: budget.truncated, ...report };
}

async function sweepScope(
  client: GitHubClient,
  base: string,
  budget: Budget,
  report: { examined: number; deleted: string[] },
  options: JanitorOptions,
): Promise<void> {
  const listed = await budget.call(() =>
    client.request(`GET ${base}/actions/runners`, { per_page: 100 }),
  );
  const runners = (listed?.data.runners ?? []) as ListedRunner[];
  report.examined += runners.length;
  for (const runner of runners.filter((candidate) => isStale(candidate, options))) {
    const deleted = await budget.call(() =>
      client.request(`DELETE ${base}/actions/runners/{runner_id}`, { runner_id: runner.id }),
    );
    if (!deleted) return;
    options.log.info(
      { runnerName: runner.name, runnerId: runner.id, scope: base },
      'janitor deleted a stale runner registration',
    );
    report.deleted.push(runner.name);
  }
}

async function scopes(
  client: GitHubClient,
  account: { login?: string } | null | undefined,
  scope: 'repo' | 'org',
  budget: Budget,
): Promise<string[]> {
  if (scope === 'org') return account?.login ? [`/orgs/${encodeURIComponent(account.login)}`] : [];
  const repos = await budget.call(() =>
    client.request('GET /installation/repositories', { per_page: 100 }),
  );
  return (repos?.data.repositories ?? []).map((repo) => `/repos/${repo.full_name}`);
}

function isStale(runner: ListedRunner, options: JanitorOptions): boolean {
  if (!RUNNER_NAME.test(runner.name) || runner.busy || runner.status !== 'offline') return false;
  const registered = registeredAt(runner);
  if (registered === undefined) return false;
  return (options.now ?? Date.now)() - registered > options.graceMs;
}
