import type { RunnerRequest } from '../../src/runner-request';

/** The dispatch request the webhook builds for job 1001 of acme/app, with `overrides`. */
export function dispatchRequest(overrides: Partial<RunnerRequest> = {}): RunnerRequest {
  return {
    kind: 'dispatch',
    dispatch: 1,
    installationId: 77,
    owner: 'acme',
    repo: 'app',
    jobId: 1001,
    runId: 501,
    runAttempt: 1,
    labels: ['self-hosted', 'lambda-runner'],
    profile: 'default',
    deliveryId: 'delivery-1',
    ...overrides,
  };
}
