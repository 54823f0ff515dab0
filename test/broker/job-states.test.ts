import nock from 'nock';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { dynamoJobStates, type JobKey } from '../../src/job-states';
import { deriveSealKey, seal } from '../../src/seal';
import { createWebhookHandler } from '../../src/webhook-handler';
import { captureLog } from '../support/capture-log';
import { dispatchRequest, sealedRunnerPayload } from '../support/dispatch-request';
import { useDynamo } from '../support/dynalite';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { mintsToken, testBroker, resetEachTest } from '../support/test-broker';
import { TEST_SECRET, delivery, queuedJob } from '../support/webhook-events';

// The App's own workflow_job deliveries say where each of our jobs stands; the webhook records
// them in the control table (dynalite here), and the broker reads the table before it would ask
// GitHub. A job then costs GitHub one call (its runner's registration) while its deliveries
// arrive, and GitHub is asked whenever the table does not know.
const lambdaMock = mockClient(LambdaClient);
const key = deriveSealKey(TEST_SECRET);
const dynamo = useDynamo();
const request = dispatchRequest();
const job: JobKey = { owner: 'acme', repo: 'app', jobId: 1001 };
const states = () => dynamoJobStates({ dynamodb: dynamo.current.client, tableName: 'control' });

resetEachTest(lambdaMock);

const broker = (env: Record<string, string> = {}) =>
  testBroker(
    {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_FUNCTION_NAME: 'runner-default',
      CONTROL_TABLE: 'control',
      ...env,
    },
    undefined,
    { dynamodb: dynamo.current.client },
  );

const invoked = () => lambdaMock.commandCalls(InvokeCommand);

describe('the job state store', () => {
  it('only moves forward: a late queued or in_progress never undoes completed', async () => {
    const store = states();
    const key = { owner: 'Acme', repo: 'App', jobId: 9001 };
    await store.record(key, { status: 'completed', runnerName: 'r-1', conclusion: 'success' });
    await store.record(key, { status: 'in_progress', runnerName: 'r-2' });
    await store.record(key, { status: 'queued' });
    await expect(store.read({ ...key, owner: 'acme', repo: 'app' })).resolves.toEqual({
      status: 'completed',
      runnerName: 'r-1',
      conclusion: 'success',
    });
    await expect(store.read({ ...key, jobId: 9002 })).resolves.toBeUndefined();
  });
});

describe('the webhook records our jobs from their deliveries', () => {
  function webhook(table = 'control') {
    const captured = captureLog();
    const handler = createWebhookHandler({
      env: {
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_DISPATCH: 'lambda',
        BROKER_FUNCTION_NAME: 'broker',
        CONTROL_TABLE: table,
      },
      clients: {
        lambda: new LambdaClient({ region: 'us-east-1' }),
        secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
        dynamodb: dynamo.current.client,
      },
      log: captured.log,
    });
    return { handler, ...captured };
  }

  function jobDelivery(
    action: string,
    jobId: number,
    extra: Record<string, unknown> = {},
    labels?: string[],
  ) {
    const payload = queuedJob({ fullName: 'acme/app', ...(labels ? { labels } : {}) }) as {
      action: string;
      workflow_job: Record<string, unknown>;
    };
    payload.action = action;
    Object.assign(payload.workflow_job, { id: jobId, ...extra });
    return delivery(payload);
  }

  it('queued, then in_progress on a runner, then completed: each recorded, the job dispatched once', async () => {
    const { handler } = webhook();
    const store = states();
    const at = { ...job, jobId: 7001 };
    expect((await handler(jobDelivery('queued', 7001))).statusCode).toBe(202);
    await expect(store.read(at)).resolves.toEqual({ status: 'queued' });
    const running = { runner_name: 'lambda-7001-1-1' };
    expect((await handler(jobDelivery('in_progress', 7001, running))).statusCode).toBe(200);
    await expect(store.read(at)).resolves.toEqual({
      status: 'in_progress',
      runnerName: 'lambda-7001-1-1',
    });
    const done = { ...running, conclusion: 'success', status: 'completed' };
    expect((await handler(jobDelivery('completed', 7001, done))).statusCode).toBe(200);
    await expect(store.read(at)).resolves.toEqual({
      status: 'completed',
      runnerName: 'lambda-7001-1-1',
      conclusion: 'success',
    });
    expect(invoked()).toHaveLength(1);
  });

  it('a job none of our profiles serves is not recorded', async () => {
    const { handler } = webhook();
    const answer = await handler(jobDelivery('in_progress', 7002, {}, ['ubuntu-latest']));
    expect(answer.statusCode).toBe(200);
    await expect(states().read({ ...job, jobId: 7002 })).resolves.toBeUndefined();
  });

  it('a table it cannot write costs no job: the delivery is dispatched and the failure logged', async () => {
    const { handler, lines } = webhook('no-such-table');
    expect((await handler(jobDelivery('queued', 7003))).statusCode).toBe(202);
    expect(invoked()).toHaveLength(1);
    expect(lines.join('\n')).toContain(
      "could not record the job's state: the broker will ask GitHub",
    );
  });
});

describe('the broker reads the table before GitHub', () => {
  const jitConfig = (scope: nock.Scope, name: string) =>
    scope
      .post('/repos/acme/app/actions/runners/generate-jitconfig', (body) => body.name === name)
      .reply(201, { runner: { id: 777 }, encoded_jit_config: encodeJitConfig(777, 'x') });

  it('a job the deliveries say is queued: registered without a status read (one GitHub call and the mint)', async () => {
    await states().record({ ...job, jobId: 1101 }, { status: 'queued' });
    jitConfig(mintsToken(), 'lambda-1101-1-1');
    const { handler } = broker();
    await expect(handler(seal({ ...request, jobId: 1101 }, key))).resolves.toEqual({
      result: 'started',
    });
    expect(invoked()).toHaveLength(1);
  });

  it('a job the deliveries say is in progress: no runner, and no GitHub call at all', async () => {
    await states().record({ ...job, jobId: 1102 }, { status: 'in_progress', runnerName: 'other' });
    const { handler, records } = broker();
    await expect(handler(seal({ ...request, jobId: 1102 }, key))).resolves.toEqual({
      result: 'not-queued',
    });
    expect(invoked()).toEqual([]);
    expect(records()).toContainEqual(
      expect.objectContaining({ decision: 'not-queued', source: 'deliveries' }),
    );
  });

  it('a job the table does not know: GitHub is asked', async () => {
    jitConfig(
      mintsToken()
        .get('/repos/acme/app/actions/jobs/1103')
        .reply(200, { id: 1103, status: 'queued' }),
      'lambda-1103-1-1',
    );
    const { handler } = broker();
    await expect(handler(seal({ ...request, jobId: 1103 }, key))).resolves.toEqual({
      result: 'started',
    });
  });

  it('a table it cannot read: GitHub is asked, and the job gets its runner', async () => {
    jitConfig(
      mintsToken()
        .get('/repos/acme/app/actions/jobs/1104')
        .reply(200, { id: 1104, status: 'queued' }),
      'lambda-1104-1-1',
    );
    // The table answers everything but the job's state (a throttled read, say).
    const real = dynamo.current.client;
    const failing = {
      send: (command: { input: { Key?: { pk?: { S?: string } } } }) =>
        command instanceof GetItemCommand && command.input.Key?.pk?.S?.startsWith('job#')
          ? Promise.reject(
              Object.assign(new Error('Throughput exceeded'), { name: 'ThrottlingException' }),
            )
          : real.send(command as never),
    } as unknown as DynamoDBClient;
    const { handler, lines } = testBroker(
      {
        APP_ID: '4242',
        PRIVATE_KEY: appKeys.privateKey,
        WEBHOOK_SECRET: TEST_SECRET,
        RUNNER_FUNCTION_NAME: 'runner-default',
        CONTROL_TABLE: 'control',
      },
      undefined,
      { dynamodb: failing },
    );
    await expect(handler(seal({ ...request, jobId: 1104 }, key))).resolves.toEqual({
      result: 'started',
    });
    expect(lines.join('\n')).toContain("could not read the job's recorded state");
  });

  const record = (payload: unknown) => ({
    requestContext: { condition: 'Success' },
    requestPayload: payload,
    responsePayload: { outcome: 'completed' },
  });

  it('a runner whose job the deliveries say it completed: settled with no GitHub call', async () => {
    const at = { ...job, jobId: 1105 };
    await states().record(at, {
      status: 'completed',
      runnerName: 'lambda-1001-1-1',
      conclusion: 'success',
    });
    const { handler, records } = broker();
    const payload = sealedRunnerPayload({ ...request, jobId: 1105 }, key);
    await expect(handler(record(payload))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'gone',
    });
    expect(invoked()).toEqual([]);
    expect(records()).toContainEqual(
      expect.objectContaining({ jobConclusion: 'success', source: 'deliveries' }),
    );
  });

  it('a runner whose job another runner took: its registration deleted, the job not read, no new runner', async () => {
    const at = { ...job, jobId: 1106 };
    await states().record(at, { status: 'in_progress', runnerName: 'someone-else' });
    mintsToken()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: false, status: 'online' })
      .delete('/repos/acme/app/actions/runners/555')
      .reply(204);
    const { handler } = broker();
    const payload = sealedRunnerPayload({ ...request, jobId: 1106 }, key);
    await expect(handler(record(payload))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'deleted',
    });
    expect(invoked()).toEqual([]);
  });

  it('a runner whose job the table still has queued: GitHub decides, and the job is read once', async () => {
    const at = { ...job, jobId: 1107 };
    await states().record(at, { status: 'queued' });
    jitConfig(
      mintsToken()
        .get('/repos/acme/app/actions/runners/555')
        .reply(404, {})
        .get('/repos/acme/app/actions/jobs/1107')
        .reply(200, { id: 1107, status: 'queued' }),
      'lambda-1107-1-2',
    );
    const { handler } = broker();
    const payload = sealedRunnerPayload({ ...request, jobId: 1107 }, key);
    await expect(handler(record(payload))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'gone',
      redispatch: 'started',
    });
    expect(invoked()).toHaveLength(1);
  });
});
