import nock from 'nock';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, isSealed, seal } from '../../src/seal';
import type { RunnerPayload } from '../../runner/runner-payload';
import { dispatchRequest, sealedRunnerPayload } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { mintsToken, settlesThenDispatchesAgain, testBroker } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

const codebuildMock = mockClient(CodeBuildClient);
const lambdaMock = mockClient(LambdaClient);
const key = deriveSealKey(TEST_SECRET);

const request = dispatchRequest({
  labels: ['self-hosted', 'lambda-runner', 'docker'],
  profile: 'docker',
});

const PROFILES = JSON.stringify([
  { name: 'default', labels: ['self-hosted', 'lambda-runner'], functionName: 'runner-default' },
  {
    name: 'docker',
    labels: request.labels,
    executor: 'codebuild',
    projectName: 'lambda-runner-test-docker',
    timeoutMinutes: 120,
    computeType: 'BUILD_GENERAL1_MEDIUM',
    docker: true,
  },
]);

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
beforeEach(() => {
  nock.cleanAll();
  codebuildMock.reset();
  lambdaMock.reset();
  codebuildMock.on(StartBuildCommand).resolves({ build: { id: 'lambda-runner-test-docker:b1' } });
});
afterEach(() => {
  // Every GitHub call a test set up was made, and no other.
  expect(nock.pendingMocks()).toEqual([]);
});

const broker = () =>
  testBroker(
    {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_PROFILES: PROFILES,
    },
    undefined,
    { codebuild: new CodeBuildClient({ region: 'us-east-1' }) },
  );

const jobStatus = (scope: nock.Scope, status: string) =>
  scope.get('/repos/acme/app/actions/jobs/1001').reply(200, { id: 1001, status });

const builds = () =>
  codebuildMock.commandCalls(StartBuildCommand).map((call) => {
    const input = call.args[0].input;
    const variables = Object.fromEntries(
      (input.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]),
    );
    return { input, variables };
  });

const sealedPayload = (overrides: Partial<RunnerPayload> = {}) =>
  sealedRunnerPayload(request, key, overrides);

/** CodeBuild's state change event, as EventBridge delivers it, carrying the build's variables. */
function buildEvent(status: string, payload: unknown) {
  return {
    version: '0',
    id: 'c030038d-8c4d-6141-9545-00ff7b7153EX',
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:codebuild:us-east-1:123456789012:build/lambda-runner-test-docker:b1'],
    detail: {
      'build-status': status,
      'project-name': 'lambda-runner-test-docker',
      'build-id': 'arn:aws:codebuild:us-east-1:123456789012:build/lambda-runner-test-docker:b1',
      'additional-information': {
        'build-complete': status !== 'IN_PROGRESS',
        initiator: 'lambda-runner-test-broker',
        'build-start-time': 'Sep 1, 2026 4:12:29 PM',
        environment: {
          image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-runner:codebuild',
          'privileged-mode': true,
          'compute-type': 'BUILD_GENERAL1_MEDIUM',
          type: 'LINUX_CONTAINER',
          'environment-variables': [
            {
              name: 'LAMBDA_RUNNER_PAYLOAD',
              type: 'PLAINTEXT',
              value: typeof payload === 'string' ? payload : JSON.stringify(payload),
            },
            { name: 'LAMBDA_RUNNER_TIMEOUT_SECONDS', type: 'PLAINTEXT', value: '7200' },
          ],
        },
        'timeout-in-minutes': 120,
        'build-number': 1,
      },
      'current-phase': 'COMPLETED',
      'current-phase-context': '[]',
      version: '1',
    },
  };
}

describe('the CodeBuild executor', () => {
  it("starts one build of the profile's project with the sealed payload, named by the runner", async () => {
    const { handler, lines } = broker();
    jobStatus(mintsToken(), 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 555 }, encoded_jit_config: encodeJitConfig(555, 'x') });

    await expect(handler(seal(request, key))).resolves.toEqual({ result: 'started' });

    const [build, ...more] = builds();
    expect(more).toEqual([]);
    expect(lambdaMock.commandCalls(InvokeCommand)).toEqual([]);
    expect(build!.input).toMatchObject({
      projectName: 'lambda-runner-test-docker',
      idempotencyToken: 'lambda-1001-1-1',
    });
    expect(build!.variables.LAMBDA_RUNNER_TIMEOUT_SECONDS).toBe('7200');
    const payload = JSON.parse(build!.variables.LAMBDA_RUNNER_PAYLOAD!) as RunnerPayload;
    expect(payload).toMatchObject({ runnerName: 'lambda-1001-1-1', profile: 'docker' });
    expect(isSealed(payload, key)).toBe(true);
    // The one-use credential never reaches a log line.
    expect(lines.join('\n')).not.toContain(encodeJitConfig(555, 'x'));
  });

  it('deletes the registration and fails (for a retry) when CodeBuild refuses the build', async () => {
    codebuildMock.on(StartBuildCommand).rejects(new Error('AccountLimitExceededException'));
    const { handler } = broker();
    jobStatus(mintsToken(), 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 555 }, encoded_jit_config: encodeJitConfig(555, 'x') })
      .delete('/repos/acme/app/actions/runners/555')
      .reply(204);
    await expect(handler(seal(request, key))).rejects.toThrow(
      /starting a build of lambda-runner-test-docker failed: AccountLimitExceededException/,
    );
  });
});

describe('the broker: CodeBuild build state changes', () => {
  it('a build that failed before its job ran: registration deleted, job dispatched again', async () => {
    const { handler } = broker();
    settlesThenDispatchesAgain();

    await expect(handler(buildEvent('FAILED', sealedPayload()))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'deleted',
      redispatch: 'started',
    });
    expect(builds().map((b) => b.input.idempotencyToken)).toEqual(['lambda-1001-1-2']);
  });

  it('a build that timed out: its registration is deleted, and a finished job gets nothing more', async () => {
    const { handler, lines } = broker();
    const scope = mintsToken()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: false, status: 'offline' })
      .delete('/repos/acme/app/actions/runners/555')
      .reply(204);
    jobStatus(scope, 'completed');
    await expect(handler(buildEvent('TIMED_OUT', sealedPayload()))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'deleted',
    });
    expect(builds()).toEqual([]);
    expect(lines.join('\n')).toContain('build TIMED_OUT');
  });

  it('a build still in progress is left alone: no GitHub call', async () => {
    const { handler } = broker();
    await expect(handler(buildEvent('IN_PROGRESS', sealedPayload()))).resolves.toEqual({
      registration: 'untouched',
    });
  });

  it('refuses a forged state change: a payload the broker did not seal, or none', async () => {
    const { handler, lines } = broker();
    const forged = { ...sealedPayload(), runnerName: 'lambda-1001-1-9' };
    await expect(handler(buildEvent('SUCCEEDED', forged))).resolves.toEqual({
      registration: 'untouched',
    });
    await expect(handler(buildEvent('FAILED', 'not json'))).resolves.toEqual({
      registration: 'untouched',
    });
    expect(lines.filter((line) => line.includes('build state change refused'))).toHaveLength(2);
    expect(builds()).toEqual([]);
  });
});
