import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, seal } from '../../src/seal';
import { dispatchRequest } from '../support/dispatch-request';
import { useDynamo } from '../support/dynalite';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { GITHUB_API, startedPayloads, testBroker } from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

// A job that can invoke the broker replays its own runner's destination record, again and again
// and all at once. Each replay finds its runner gone and the job still queued, so each asks for
// another runner. The control table (here dynalite, a DynamoDB implementation) counts starts per
// job attempt with a conditional write: three at most, whatever arrives.
const lambdaMock = mockClient(LambdaClient);
const key = deriveSealKey(TEST_SECRET);
const request = dispatchRequest({ labels: ['self-hosted', 'lambda-runner'] });
const PROFILES = JSON.stringify([
  { name: 'default', labels: request.labels, functionName: 'runner-default' },
]);

const dynamo = useDynamo();
beforeEach(() => {
  nock.cleanAll();
  lambdaMock.reset();
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
});

/** GitHub as the attack sees it: the job waits, every runner is gone, registrations succeed. */
function gitHubWhereEveryRunnerIsGone() {
  let id = 600;
  nock(GITHUB_API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get('/repos/acme/app/actions/jobs/1001')
    .reply(200, { id: 1001, status: 'queued' })
    .get(/\/repos\/acme\/app\/actions\/runners\/\d+/)
    .reply(404, {})
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, () => {
      id += 1;
      return { runner: { id }, encoded_jit_config: encodeJitConfig(id, 'x') };
    });
}

const broker = (env: Record<string, string>) =>
  testBroker(
    {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_PROFILES: PROFILES,
      ...env,
    },
    undefined,
    { dynamodb: dynamo.current.client },
  );

const record = (requestPayload: unknown) => ({
  requestContext: { condition: 'Success' },
  requestPayload,
  responsePayload: {},
});

const started = () => startedPayloads(lambdaMock);

async function replayAttack(env: Record<string, string>, runAttempt: number) {
  gitHubWhereEveryRunnerIsGone();
  const { handler } = broker(env);
  const first = { ...request, runAttempt };
  await expect(handler(seal(first, key))).resolves.toEqual({ result: 'started' });
  const own = started()[0]!;
  // Five replays in a row, then ten at once.
  for (let i = 0; i < 5; i += 1) await handler(record(own));
  await Promise.all(Array.from({ length: 10 }, () => handler(record(own))));
  return started();
}

it('starts three runners at most for one job attempt, however often its record is replayed', async () => {
  const runners = await replayAttack({ CONTROL_TABLE: dynamo.current.tableName }, 1);
  expect(runners).toHaveLength(3);
});

it('without the control table the same replays start a runner each (what the table prevents)', async () => {
  const runners = await replayAttack({}, 2);
  expect(runners.length).toBeGreaterThan(10);
});

it('a start that GitHub refuses as a duplicate is not counted', async () => {
  nock(GITHUB_API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get('/repos/acme/app/actions/jobs/1001')
    .reply(200, { id: 1001, status: 'queued' });
  nock(GITHUB_API)
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .times(5)
    .reply(409, { message: 'Already exists' })
    // Its listener is up and waits for the job: the 409 stands.
    .get('/repos/acme/app/actions/runners')
    .query(true)
    .times(5)
    .reply(200, { total_count: 1, runners: [{ id: 9, name: 'x', status: 'online', busy: false }] });
  const { handler } = broker({ CONTROL_TABLE: dynamo.current.tableName });
  const attempt = { ...request, runAttempt: 3 };
  // The same dispatch request five times: GitHub already has its runner each time.
  for (let i = 0; i < 5; i += 1)
    await expect(handler(seal(attempt, key))).resolves.toEqual({ result: 'duplicate' });
  // None was counted, so the job attempt still gets its runner.
  nock(GITHUB_API)
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply(201, { runner: { id: 700 }, encoded_jit_config: encodeJitConfig(700, 'x') });
  await expect(handler(seal(attempt, key))).resolves.toEqual({ result: 'started' });
});

it('a broker killed between registration and start loses no job: its retry reclaims the registration and starts the runner', async () => {
  // GitHub keeps registrations: a name is refused (409) while one of that name exists.
  const registrations = new Map<number, { name: string; labels: string[] }>();
  let id = 800;
  nock(GITHUB_API)
    .persist()
    .post(/\/app\/installations\/\d+\/access_tokens/)
    .reply(201, { token: 'ghs_x', expires_at: new Date(Date.now() + 3600_000).toISOString() })
    .get('/repos/acme/app/actions/jobs/1001')
    .reply(200, { id: 1001, status: 'queued' })
    .post('/repos/acme/app/actions/runners/generate-jitconfig')
    .reply((_uri, body) => {
      const { name, labels } = body as { name: string; labels: string[] };
      if ([...registrations.values()].some((r) => r.name === name))
        return [409, { message: 'Already exists' }];
      id += 1;
      registrations.set(id, { name, labels });
      return [201, { runner: { id }, encoded_jit_config: encodeJitConfig(id, name) }];
    })
    .get('/repos/acme/app/actions/runners')
    .query(true)
    .reply((uri) => {
      const name = new URL(uri, GITHUB_API).searchParams.get('name');
      const runners = [...registrations]
        .filter(([, r]) => r.name === name)
        .map(([runnerId, r]) => ({
          id: runnerId,
          name: r.name,
          status: 'offline', // no listener ever connected
          busy: false,
          labels: r.labels.map((label) => ({ name: label })),
        }));
      return [200, { total_count: runners.length, runners }];
    })
    .delete(/\/repos\/acme\/app\/actions\/runners\/\d+$/)
    .reply((uri) => {
      registrations.delete(Number(uri.split('/').pop()));
      return [204, ''];
    });
  // The first broker registers the runner, then dies in its invoke of the runner (a timeout).
  lambdaMock
    .on(InvokeCommand)
    .callsFakeOnce(() => new Promise(() => undefined))
    .resolves({ StatusCode: 202 });
  const sealed = seal({ ...request, runAttempt: 7 }, key);
  void broker({ CONTROL_TABLE: dynamo.current.tableName }).handler(sealed);
  for (let i = 0; i < 200 && started().length === 0; i += 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  expect([...registrations.values()].map((r) => r.name)).toEqual(['lambda-1001-7-1']);
  // Lambda retries the event a minute or more later, in a fresh container.
  const realNow = Date.now.bind(Date);
  const later = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 2 * 60_000);
  try {
    await expect(
      broker({ CONTROL_TABLE: dynamo.current.tableName }).handler(sealed),
    ).resolves.toEqual({ result: 'started' });
  } finally {
    later.mockRestore();
  }
  // The dead broker's registration is gone; the job has one registration, and a runner started with it.
  expect([...registrations.keys()]).toEqual([id]);
  expect(started().map((payload) => [payload.runnerName, payload.runnerId])).toEqual([
    ['lambda-1001-7-1', id - 1],
    ['lambda-1001-7-1', id],
  ]);
});
