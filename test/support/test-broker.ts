import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { RunnerPayload } from '../../runner/runner-payload';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createBrokerHandler, type BrokerOptions } from '../../src/broker/handler';
import { captureLog } from './capture-log';
import { encodeJitConfig } from './github-app';

export const GITHUB_API = 'https://api.github.com';

/**
 * The broker handler with `env`, SDK clients for aws-sdk-client-mock to answer, a captured log,
 * and GitHub's retry back-off shrunk for tests.
 */
export function testBroker(
  env: Record<string, string>,
  executors?: BrokerOptions['executors'],
  clients: Partial<NonNullable<BrokerOptions['clients']>> = {},
) {
  const captured = captureLog();
  const handler = createBrokerHandler({
    env,
    clients: {
      lambda: new LambdaClient({ region: 'us-east-1' }),
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      sqs: new SQSClient({ region: 'us-east-1' }),
      ...clients,
    },
    ...(executors ? { executors } : {}),
    log: captured.log,
    retryAfterBaseValue: 1,
  });
  return { handler, ...captured };
}

/** GitHub minting an installation token for installation 77 (or `installation`). */
export function mintsToken(scope = nock(GITHUB_API), installation = 77): nock.Scope {
  return scope.post(`/app/installations/${installation}/access_tokens`).reply(201, {
    token: 'ghs_installation',
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
  });
}

/**
 * GitHub while the broker settles runner 555 (`lambda-1001-1-1`, offline, idle) of job 1001,
 * which still waits: the runner read and deleted, the job read once (the settle's read serves
 * the dispatch again), and the next runner `lambda-1001-1-2` registered as 777.
 */
export function settlesThenDispatchesAgain(scope = mintsToken()): nock.Scope {
  return scope
    .get('/repos/acme/app/actions/runners/555')
    .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: false, status: 'offline' })
    .delete('/repos/acme/app/actions/runners/555')
    .reply(204)
    .get('/repos/acme/app/actions/jobs/1001')
    .reply(200, { id: 1001, status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig', (b) => b.name === 'lambda-1001-1-2')
    .reply(201, { runner: { id: 777 }, encoded_jit_config: encodeJitConfig(777, 'y') });
}

/** The runner payloads the broker invoked runner functions with, in order (a Lambda client mock). */
export function startedPayloads(lambdaMock: AwsClientStub<LambdaClient>): RunnerPayload[] {
  return lambdaMock
    .commandCalls(InvokeCommand)
    .map(
      (call) =>
        JSON.parse(
          Buffer.from(call.args[0].input.Payload as Uint8Array).toString(),
        ) as RunnerPayload,
    );
}

/**
 * Each test of a suite starts with no GitHub interceptors and the runner functions accepting
 * invokes, and ends with every GitHub call it set up made (an unplanned call fails its request).
 */
export function resetEachTest(lambdaMock: AwsClientStub<LambdaClient>): void {
  beforeEach(() => {
    nock.cleanAll();
    lambdaMock.reset();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
  });
  afterEach(() => expect(nock.pendingMocks()).toEqual([]));
}
