import { seal } from '../../src/seal';
import type { RunnerPayload } from '../../runner/runner-payload';
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

/**
 * The runner payload the broker sealed for `request`'s first runner (`lambda-1001-1-1`, id
 * 555, a one-use JIT config), with `overrides`, sealed at `sealedAt`.
 */
export function sealedRunnerPayload(
  request: RunnerRequest,
  key: Buffer,
  overrides: Partial<RunnerPayload> = {},
  sealedAt = Date.now(),
) {
  return seal<RunnerPayload>(
    {
      ...request,
      kind: 'runner',
      runnerName: 'lambda-1001-1-1',
      runnerId: 555,
      scope: 'repo',
      credential: { jitConfig: 'one-use' },
      ...overrides,
    },
    key,
    sealedAt,
  );
}
