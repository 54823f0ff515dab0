import pino, { type Logger } from 'pino';
import { createAwsClients, type AwsClients } from '../src/aws-clients';
import type { Env } from '../src/env';
import { resolveAppCredentials } from './app-credentials';
import { loadRunnerConfig } from './config';
import { createAppClient, createGitHubClients } from './github-client';
import { sweepRunners, type JanitorReport } from './janitor';

export interface JanitorHandlerOptions {
  readonly env?: Env;
  readonly clients?: Pick<AwsClients, 'secretsManager'>;
  readonly log?: Logger;
  readonly retryAfterBaseValue?: number;
}

/**
 * The scheduled janitor Lambda: removes registrations of runners whose Lambda died without
 * cleaning up. `JANITOR_GRACE_MINUTES` (default 20: longer than any Lambda lives) and
 * `JANITOR_MAX_CALLS` (default 200) bound what one run does.
 */
export function createJanitorHandler(options: JanitorHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const log = options.log ?? pino({ level: env.LOG_LEVEL?.trim() || 'info' });
  const config = loadRunnerConfig(env);
  const clients = options.clients ?? createAwsClients();
  return async (): Promise<JanitorReport> => {
    const credentials = await resolveAppCredentials(config.appCredentials, clients.secretsManager);
    const github = {
      credentials,
      baseUrl: config.apiBaseUrl,
      log,
      retryAfterBaseValue: options.retryAfterBaseValue,
    };
    const report = await sweepRunners({
      app: createAppClient(github),
      installation: createGitHubClients(github),
      scope: config.scope,
      graceMs: Number(env.JANITOR_GRACE_MINUTES ?? 20) * 60_000,
      maxCalls: Number(env.JANITOR_MAX_CALLS ?? 200),
      log,
    });
    log.info({ ...report }, 'janitor run finished');
    return report;
  };
}
