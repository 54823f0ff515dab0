import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { loadBrokerConfig } from '../../src/broker/config';
import { ConfigError } from '../../src/errors';
import { deriveSealKey, seal } from '../../src/seal';
import type { RunnerPayload } from '../../runner/runner-payload';
import { dispatchRequest } from '../support/dispatch-request';
import { appKeys, encodeJitConfig, verifyAppJwt } from '../support/github-app';
import { GITHUB_API, startedPayloads, testBroker, resetEachTest } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

// A stage may hold more than one App, each installed where the first is and each with GitHub's
// limits of its own: the broker registers each job's runner with one App in turn (job id mod
// the number of Apps), and the App that registered a runner is the one that deletes it.
const lambdaMock = mockClient(LambdaClient);
const key = deriveSealKey(TEST_SECRET);
const second = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const env = {
  APP_ID: '4242',
  PRIVATE_KEY: appKeys.privateKey,
  ADDITIONAL_APPS: JSON.stringify([{ appId: '5353', privateKey: second.privateKey }]),
  WEBHOOK_SECRET: TEST_SECRET,
  RUNNER_FUNCTION_NAME: 'runner-default',
};

resetEachTest(lambdaMock);

/** GitHub as App `appId` (its JWT checked with its public key) or one of its installations. */
function asApp(publicKey: string) {
  return nock(GITHUB_API, {
    reqheaders: {
      authorization: (value) => {
        try {
          return Boolean(verifyAppJwt(value, publicKey));
        } catch {
          return false;
        }
      },
    },
  });
}
const asInstallation = (token: string) =>
  nock(GITHUB_API, { reqheaders: { authorization: `token ${token}` } });
const mint = (publicKey: string, installation: number, token: string) =>
  asApp(publicKey)
    .post(`/app/installations/${installation}/access_tokens`)
    .reply(201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString() });
const registers = (token: string, jobId: number, runnerId: number) =>
  asInstallation(token)
    .get(`/repos/acme/app/actions/jobs/${jobId}`)
    .reply(200, { id: jobId, status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, { runner: { id: runnerId }, encoded_jit_config: encodeJitConfig(runnerId, 'x') });

const payloads = () => startedPayloads(lambdaMock);

it("registers an odd job's runner with the second App, through its own installation, and an even one's with the first", async () => {
  asApp(second.publicKey).get('/repos/acme/app/installation').reply(200, { id: 88 });
  mint(second.publicKey, 88, 'ghs_second');
  registers('ghs_second', 1001, 701);
  mint(appKeys.publicKey, 77, 'ghs_first');
  registers('ghs_first', 1002, 702);
  const { handler } = testBroker(env);
  await expect(handler(seal(dispatchRequest({ jobId: 1001 }), key))).resolves.toEqual({
    result: 'started',
  });
  await expect(handler(seal(dispatchRequest({ jobId: 1002 }), key))).resolves.toEqual({
    result: 'started',
  });
  expect(payloads().map((payload) => [payload.runnerId, payload.registeredBy])).toEqual([
    [701, { appId: '5353', installationId: 88 }],
    [702, undefined],
  ]);
});

it('the App that registered a runner deletes it, and the job dispatched again keeps its delivery installation', async () => {
  asApp(second.publicKey).get('/repos/acme/app/installation').reply(200, { id: 88 });
  mint(second.publicKey, 88, 'ghs_second');
  asInstallation('ghs_second')
    .get('/repos/acme/app/actions/runners/701')
    .reply(200, { id: 701, name: 'lambda-1001-1-1', busy: false, status: 'offline' })
    .delete('/repos/acme/app/actions/runners/701')
    .reply(204)
    .get('/repos/acme/app/actions/jobs/1001')
    .reply(200, { id: 1001, status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, { runner: { id: 703 }, encoded_jit_config: encodeJitConfig(703, 'x') });
  const { handler } = testBroker(env);
  const payload = seal<RunnerPayload>(
    {
      ...dispatchRequest({ jobId: 1001 }),
      kind: 'runner',
      runnerName: 'lambda-1001-1-1',
      runnerId: 701,
      scope: 'repo',
      credential: { jitConfig: 'one-use' },
      registeredBy: { appId: '5353', installationId: 88 },
    },
    key,
  );
  await expect(
    handler({ requestContext: { condition: 'Success' }, requestPayload: payload }),
  ).resolves.toEqual({
    runnerName: 'lambda-1001-1-1',
    registration: 'deleted',
    redispatch: 'started',
  });
  const [next] = payloads();
  expect(next).toMatchObject({
    runnerName: 'lambda-1001-1-2',
    installationId: 77,
    registeredBy: { appId: '5353', installationId: 88 },
  });
});

it('an App not installed where the job runs leaves the job to the first App, with a log line', async () => {
  asApp(second.publicKey).get('/repos/acme/app/installation').reply(404, { message: 'Not Found' });
  mint(appKeys.publicKey, 77, 'ghs_first');
  registers('ghs_first', 1001, 704);
  const { handler, lines } = testBroker(env);
  await expect(handler(seal(dispatchRequest({ jobId: 1001 }), key))).resolves.toEqual({
    result: 'started',
  });
  expect(payloads()[0]?.registeredBy).toBeUndefined();
  expect(lines.join('\n')).toContain('this App is not installed here');
});

it('refuses additional Apps that are not a JSON array of {appId, privateKey}, by name', () => {
  expect(() => loadBrokerConfig({ ...env, ADDITIONAL_APPS: '[{"appId":"5"}]' })).toThrow(
    ConfigError,
  );
  expect(() => loadBrokerConfig({ ...env, ADDITIONAL_APPS: 'nope' })).toThrow(/ADDITIONAL_APPS/);
  expect(
    loadBrokerConfig({ ...env, ADDITIONAL_APP_SECRET_ARNS: 'arn:a, arn:b' }).additionalApps,
  ).toHaveLength(2);
});
