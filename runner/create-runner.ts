import type { Logger } from 'pino';
import type { AwsClients } from '../src/aws-clients';
import type { Env } from '../src/env';
import type { Metrics } from '../src/metrics';
import type { RunnerRequest } from '../src/runner-request';
import { resolveAppCredentials } from './app-credentials';
import { loadRunnerConfig, type RunnerConfig } from './config';
import { assumeJobRole } from './job-credentials';
import { createGitHubClients, type GitHubClient } from './github-client';
import { runJob, type RunnerResult } from './run-job';

export interface RunnerOptions {
  readonly env?: Env;
  readonly config?: RunnerConfig;
  readonly clients: Pick<AwsClients, 'secretsManager' | 'sts'>;
  readonly log: Logger;
  readonly retryAfterBaseValue?: number;
  readonly metrics?: Metrics;
}

/**
 * Wires the executor once per container (configuration, App credentials, GitHub clients with
 * their token caches, runner group ids) and returns a function that serves one job. Used by the
 * runner Lambda and by local mode alike.
 */
export function createRunner(
  options: RunnerOptions,
): (request: RunnerRequest, deadline: number) => Promise<RunnerResult> {
  const env = options.env ?? process.env;
  const config = options.config ?? loadRunnerConfig(env);
  const groupIds = new Map<string, number>();
  const rateLimit: { remaining?: number } = {};
  let github: Promise<(installationId: number) => GitHubClient> | undefined;
  const getGitHub = () => {
    github ??= resolveAppCredentials(config.appCredentials, options.clients.secretsManager).then(
      (credentials) =>
        createGitHubClients({
          credentials,
          baseUrl: config.apiBaseUrl,
          log: options.log,
          retryAfterBaseValue: options.retryAfterBaseValue,
          onRateLimit: (remaining) => (rateLimit.remaining = remaining),
        }),
    );
    github.catch(() => (github = undefined)); // a failed secret read is retried by the next job
    return github;
  };
  const { jobRoleArn } = config;
  const jobCredentials = jobRoleArn
    ? (sessionName: string) => assumeJobRole(options.clients.sts, jobRoleArn, sessionName)
    : undefined;
  return async (request, deadline) =>
    runJob(request, deadline, {
      config,
      github: await getGitHub(),
      log: options.log,
      env,
      groupIds,
      jobCredentials,
      metrics: options.metrics,
      rateLimit: () => rateLimit.remaining,
    });
}
