import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, seal } from '../../src/seal';
import { dispatchRequest } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { GITHUB_API, testBroker } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

// Local mode serves events concurrently in one process. GitHub's throttle lets ten requests run
// at once; ten first requests on a cold broker used to hold every slot while waiting for the
// installation token, whose own request needed a slot: nothing ever moved again.
const lambdaMock = mockClient(LambdaClient);
beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());

it('thirty concurrent first dispatches on a cold broker all start, with one token mint', async () => {
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
  let mints = 0;
  let id = 0;
  nock(GITHUB_API)
    .persist()
    .post('/app/installations/77/access_tokens')
    .reply(201, () => {
      mints += 1;
      return { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() };
    })
    .get(/\/repos\/acme\/app\/actions\/jobs\/\d+$/)
    .reply(200, { status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, () => {
      id += 1;
      return { runner: { id }, encoded_jit_config: encodeJitConfig(id, 'x') };
    });
  const { handler } = testBroker({
    APP_ID: '4242',
    PRIVATE_KEY: appKeys.privateKey,
    WEBHOOK_SECRET: TEST_SECRET,
    RUNNER_PROFILES: JSON.stringify([
      { name: 'default', labels: ['lambda-runner'], functionName: 'f' },
    ]),
  });
  const key = deriveSealKey(TEST_SECRET);
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      handler(seal(dispatchRequest({ jobId: 100 + i, labels: ['lambda-runner'] }), key)),
    ),
  );
  expect(results).toEqual(Array.from({ length: 30 }, () => ({ result: 'started' })));
  expect(mints).toBe(1);
  expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(30);
});
