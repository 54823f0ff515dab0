import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, seal } from '../../src/seal';
import { mintsToken, testBroker } from '../support/test-broker';
import { dispatchRequest } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { TEST_SECRET } from '../support/webhook-events';

const secretsMock = mockClient(SecretsManagerClient);
const lambdaMock = mockClient(LambdaClient);

const request = dispatchRequest({ deliveryId: 'd-1' });

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
beforeEach(() => {
  nock.cleanAll();
  secretsMock.reset();
  lambdaMock.reset();
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
});

const broker = (env: Record<string, string>) =>
  testBroker({ RUNNER_FUNCTION_NAME: 'runner', ...env });

const jobFlow = (scope: nock.Scope, times = 1) =>
  scope
    .get('/repos/acme/app/actions/jobs/1001')
    .times(times)
    .reply(200, { status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .times(times)
    .reply(201, { runner: { id: 5 }, encoded_jit_config: encodeJitConfig(5, 'x') });

describe('the broker reads its secrets from Secrets Manager', () => {
  it('reads the App JSON and the webhook secret once per container, never logging them', async () => {
    secretsMock
      .on(GetSecretValueCommand, { SecretId: 'app-arn' })
      .resolves({ SecretString: JSON.stringify({ appId: 4242, privateKey: appKeys.privateKey }) })
      .on(GetSecretValueCommand, { SecretId: 'hook-arn' })
      .resolves({ SecretString: TEST_SECRET });
    const { handler, lines } = broker({
      GITHUB_APP_SECRET_ARN: 'app-arn',
      WEBHOOK_SECRET_ARN: 'hook-arn',
    });
    jobFlow(mintsToken(), 2);
    const key = deriveSealKey(TEST_SECRET);
    await expect(handler(seal(request, key))).resolves.toEqual({ result: 'started' });
    await expect(handler(seal({ ...request, dispatch: 2 }, key))).resolves.toEqual({
      result: 'started',
    });
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('PRIVATE KEY');
    expect(lines.join('\n')).not.toContain(TEST_SECRET);
  });

  it('fails clearly when the App secret is not the expected JSON, and tries again on the next event', async () => {
    secretsMock
      .on(GetSecretValueCommand, { SecretId: 'app-arn' })
      .resolvesOnce({ SecretString: 'not json' })
      .resolves({ SecretString: '{"appId":"1"}' });
    const { handler } = broker({ GITHUB_APP_SECRET_ARN: 'app-arn', WEBHOOK_SECRET: TEST_SECRET });
    const event = seal(request, deriveSealKey(TEST_SECRET));
    await expect(handler(event)).rejects.toThrow(
      /secret app-arn must be JSON \{"appId","privateKey"\}/,
    );
    await expect(handler(event)).rejects.toThrow(/must hold "appId" and a PEM "privateKey"/);
  });

  it('registers org runners in the profile group, looking the group id up once per container', async () => {
    const { handler } = broker({
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
    });
    const groups: number[] = [];
    mintsToken()
      .get('/orgs/acme/actions/runner-groups')
      .query(true)
      .reply(200, {
        total_count: 2,
        runner_groups: [
          { id: 1, name: 'Default' },
          { id: 7, name: 'CI' },
        ],
      })
      .get('/repos/acme/app/actions/jobs/1001')
      .times(2)
      .reply(200, { status: 'queued' })
      .post(
        '/orgs/acme/actions/runners/generate-jitconfig',
        (body) => groups.push(body.runner_group_id) > 0,
      )
      .times(2)
      .reply(201, { runner: { id: 5 }, encoded_jit_config: encodeJitConfig(5, 'x') });
    const key = deriveSealKey(TEST_SECRET);
    const org = { ...request, scope: 'org' as const, group: 'ci' };
    await handler(seal(org, key));
    await handler(seal({ ...org, dispatch: 2 }, key));
    expect(groups).toEqual([7, 7]);
    expect(nock.isDone()).toBe(true);
  });

  it('refuses an org runner group that does not exist, by name', async () => {
    const { handler } = broker({
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
    });
    mintsToken()
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(200, { status: 'queued' })
      .get('/orgs/acme/actions/runner-groups')
      .query(true)
      .reply(200, { total_count: 0, runner_groups: [] });
    await expect(
      handler(seal({ ...request, scope: 'org', group: 'gpu' }, deriveSealKey(TEST_SECRET))),
    ).rejects.toThrow(/runner group "gpu" not found in acme; check RUNNER_GROUP/);
  });
});
