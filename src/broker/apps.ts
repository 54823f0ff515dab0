import type { Logger } from 'pino';
import type { GitHubClient } from './github-client';
import type { RunnerTarget } from './registration';

/** The App (by id; none: the stage's first) and its installation that a runner was registered by. */
export interface Registrar {
  readonly appId?: string;
  readonly installationId: number;
}

/** One App the broker holds: its id, and its own client (the App's JWT) for App-level routes. */
export interface HeldApp {
  readonly appId: string;
  readonly app: GitHubClient;
}

/**
 * Spreads registrations over the stage's Apps, each with GitHub's limits of its own (5,000
 * requests an hour per installation, 900 points a minute): a job's runner is registered by
 * App `job id mod n`, the first App through the installation its delivery named, another through
 * its own installation on the same repository (or org), looked up once per container. An App
 * not installed there (or whose lookup fails) leaves the job to the first App, with a log line.
 */
export interface AppTurns {
  registrarFor(
    job: { jobId: number; installationId: number },
    target: RunnerTarget,
  ): Promise<Registrar>;
}

/** How long a failed installation lookup stands before it is tried again. */
const LOOKUP_RETRY_MS = 10 * 60_000;

export function createAppTurns(options: {
  /** The stage's Apps after the first. */
  readonly additional: readonly HeldApp[];
  readonly log: Logger;
  readonly now?: () => number;
}): AppTurns {
  const { additional, log } = options;
  const now = options.now ?? Date.now;
  const installations = new Map<string, Promise<number | undefined> | { failedAt: number }>();

  const lookUp = (held: HeldApp, target: RunnerTarget): Promise<number | undefined> => {
    const where = target.scope === 'org' ? target.owner : `${target.owner}/${target.repo}`;
    const key = `${held.appId}:${where}`.toLowerCase();
    const known = installations.get(key);
    if (known instanceof Promise) return known;
    if (known && now() - known.failedAt < LOOKUP_RETRY_MS) return Promise.resolve(undefined);
    const looked = installationOf(held.app, target).catch((error: unknown) => {
      installations.set(key, { failedAt: now() });
      log.warn(
        { err: error, appId: held.appId, where },
        'this App is not installed here (or GitHub did not say): the first App registers its jobs',
      );
      return undefined;
    });
    installations.set(key, looked);
    return looked;
  };

  return {
    async registrarFor(job, target) {
      const turn = job.jobId % (additional.length + 1);
      const held = turn === 0 ? undefined : additional[turn - 1];
      if (!held) return { installationId: job.installationId };
      const installationId = await lookUp(held, target);
      return installationId === undefined
        ? { installationId: job.installationId }
        : { appId: held.appId, installationId };
    },
  };
}

async function installationOf(app: GitHubClient, target: RunnerTarget): Promise<number> {
  const { data } =
    target.scope === 'org'
      ? await app.request('GET /orgs/{org}/installation', { org: target.owner })
      : await app.request('GET /repos/{owner}/{repo}/installation', {
          owner: target.owner,
          repo: target.repo,
        });
  return data.id;
}
