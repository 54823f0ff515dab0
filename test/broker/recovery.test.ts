import nock from 'nock';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, seal } from '../../src/seal';
import { GITHUB_API as API, mintsToken, testBroker } from '../support/test-broker';
import { dispatchRequest } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import { TEST_SECRET } from '../support/webhook-events';

const sqsMock = mockClient(SQSClient);
const key = deriveSealKey(TEST_SECRET);
const minute = 60_000;
const SCHEDULE = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

const request = dispatchRequest({ deliveryId: 'd-1' });

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
beforeEach(() => {
  nock.cleanAll();
  sqsMock.reset();
  sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
});

function broker(env: Record<string, string> = {}) {
  const started: string[] = [];
  const broker = testBroker(
    {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: TEST_SECRET,
      RUNNER_FUNCTION_NAME: 'runner',
      BROKER_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/broker-dlq',
      ...env,
    },
    { lambda: async (payload) => void started.push(payload.runnerName) },
  );
  return { ...broker, started };
}

/** No orphans to look at: the schedule's first task, kept quiet. */
const noInstallations = () => nock(API).get('/app/installations').query(true).reply(200, []);

const attempt = (id: number, guid: string, status: number, ageMs: number, redelivery = false) => ({
  id,
  guid,
  delivered_at: new Date(Date.now() - ageMs).toISOString(),
  redelivery,
  duration: 0.1,
  status: status < 300 ? 'OK' : 'Service Unavailable',
  status_code: status,
  event: 'workflow_job',
  action: 'queued',
  installation_id: 77,
  repository_id: 1,
});

describe('the schedule redelivers failed webhook deliveries', () => {
  it('redelivers each workflow_job delivery whose every attempt failed, at most N times, over cursor pages', async () => {
    noInstallations();
    const redelivered: number[] = [];
    nock(API)
      .get('/app/hook/deliveries')
      .query({ per_page: 100 })
      .reply(
        200,
        [
          attempt(11, 'failed-once', 503, 1 * minute),
          attempt(12, 'settled', 202, 2 * minute, true),
          attempt(13, 'settled', 503, 3 * minute),
          attempt(14, 'exhausted', 503, 4 * minute, true),
        ],
        {
          link: '<https://api.github.com/app/hook/deliveries?per_page=100&cursor=abc>; rel="next"',
        },
      )
      .get('/app/hook/deliveries')
      .query({ per_page: 100, cursor: 'abc' })
      .reply(200, [
        attempt(15, 'exhausted', 503, 5 * minute, true),
        attempt(16, 'exhausted', 503, 6 * minute, true),
        attempt(17, 'exhausted', 503, 7 * minute),
        { ...attempt(18, 'a-push', 500, 8 * minute), event: 'push' },
        attempt(19, 'too-old', 503, 90 * minute),
      ])
      .post(/\/app\/hook\/deliveries\/\d+\/attempts/)
      .reply(function (uri) {
        redelivered.push(Number(uri.split('/')[4]));
        return [202, {}];
      });
    const { handler, records } = broker({ REDELIVERY_MAX_ATTEMPTS: '3' });
    const report = (await handler(SCHEDULE)) as { redeliveries: Record<string, unknown> };
    expect(redelivered).toEqual([11]);
    expect(report.redeliveries).toEqual({
      calls: 3,
      redelivered: ['failed-once'],
      dropped: [],
      exhausted: ['exhausted'],
      truncated: false,
    });
    expect(records()).toContainEqual(
      expect.objectContaining({
        guid: 'exhausted',
        msg: 'delivery failed every redelivery: given up',
      }),
    );
  });

  it('drops a delivery GitHub refuses to redeliver (422), with a log line', async () => {
    noInstallations();
    nock(API)
      .get('/app/hook/deliveries')
      .query(true)
      .reply(200, [attempt(21, 'gone', 503, minute)])
      .post('/app/hook/deliveries/21/attempts')
      .reply(422, { message: 'Validation Failed' });
    const { handler, records } = broker();
    const report = (await handler(SCHEDULE)) as { redeliveries: { dropped: string[] } };
    expect(report.redeliveries.dropped).toEqual(['gone']);
    expect(records()).toContainEqual(expect.objectContaining({ guid: 'gone', status: 422 }));
  });

  it('stops at its redelivery budget; the rest wait for the next run', async () => {
    noInstallations();
    nock(API)
      .get('/app/hook/deliveries')
      .query(true)
      .reply(200, [attempt(31, 'a', 503, minute), attempt(32, 'b', 503, minute)])
      .post('/app/hook/deliveries/31/attempts')
      .reply(202, {});
    const { handler } = broker({ REDELIVERIES_PER_RUN: '1' });
    const report = (await handler(SCHEDULE)) as { redeliveries: Record<string, unknown> };
    expect(report.redeliveries).toMatchObject({ calls: 2, truncated: true, redelivered: ['a'] });
    expect(nock.isDone()).toBe(true);
  });

  it('scales with the failures it finds: 120 failed deliveries are all redelivered in one run', async () => {
    noInstallations();
    const failed = Array.from({ length: 120 }, (_, i) => attempt(1000 + i, `g-${i}`, 503, minute));
    const redelivered: number[] = [];
    nock(API)
      .get('/app/hook/deliveries')
      .query(true)
      .reply(200, failed)
      .post(/\/app\/hook\/deliveries\/\d+\/attempts/)
      .times(120)
      .reply(function (uri) {
        redelivered.push(Number(uri.split('/')[4]));
        return [202, {}];
      });
    const { handler } = broker({ REDELIVERY_MAX_CALLS: '5' });
    const report = (await handler(SCHEDULE)) as { redeliveries: Record<string, unknown> };
    expect(redelivered).toHaveLength(120);
    expect(report.redeliveries).toMatchObject({ calls: 121, truncated: false });
  });

  it('pauses when GitHub asks the App to wait past the sleep bound: no call inside the window, no failed run', async () => {
    noInstallations();
    nock(API)
      .get('/app/hook/deliveries')
      .query(true)
      .reply(200, [attempt(41, 'a', 503, minute), attempt(42, 'b', 503, minute)])
      .post('/app/hook/deliveries/41/attempts')
      .reply(429, { message: 'secondary rate limit' }, { 'retry-after': '600' });
    const { handler, records } = broker({ RATE_LIMIT_MAX_SLEEP_SECONDS: '1' });
    const report = (await handler(SCHEDULE)) as { redeliveries: Record<string, unknown> };
    expect(report.redeliveries).toMatchObject({ truncated: true, redelivered: [] });
    expect(records()).toContainEqual(
      expect.objectContaining({ msg: 'redeliveries paused for GitHub rate limit window' }),
    );
    expect(nock.isDone()).toBe(true);
  });
});

const letter = (body: unknown, handle: string) => ({
  ReceiptHandle: handle,
  Body: JSON.stringify(body),
});
const failureRecord = (event: unknown) => ({
  requestContext: { condition: 'RetriesExhausted' },
  requestPayload: event,
  responsePayload: { errorMessage: 'GitHub 502' },
});

describe('the schedule replays dead letters', () => {
  beforeEach(() => {
    noInstallations();
    nock(API).get('/app/hook/deliveries').query(true).reply(200, []);
  });

  it('dispatches a failed dispatch request whose job still waits, and deletes the rest with a line each', async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          letter(failureRecord(seal(request, key)), 'h-waiting'),
          letter(failureRecord(seal({ ...request, jobId: 1002 }, key)), 'h-done'),
          letter(failureRecord({ ...request, jobId: 1003 }), 'h-unsealed'),
          letter({ event: seal({ ...request, jobId: 1004 }, key), replays: 3 }, 'h-limit'),
        ],
      })
      .resolves({ Messages: [] });
    mintsToken()
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(200, { status: 'queued' })
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 5 }, encoded_jit_config: encodeJitConfig(5, 'x') })
      .get('/repos/acme/app/actions/jobs/1002')
      .reply(200, { status: 'completed' });
    const { handler, started, records } = broker({ DEAD_LETTER_MAX_REPLAYS: '3' });
    const report = (await handler(SCHEDULE)) as { replays: Record<string, number> };
    expect(started).toEqual(['lambda-1001-1-1']);
    expect(report.replays).toEqual({ replayed: 2, requeued: 0, dropped: 2 });
    const deleted = sqsMock
      .commandCalls(DeleteMessageCommand)
      .map((c) => c.args[0].input.ReceiptHandle);
    expect(deleted.sort()).toEqual(['h-done', 'h-limit', 'h-unsealed', 'h-waiting']);
    expect(
      records()
        .filter((r) => r.decision === 'dropped')
        .map((r) => r.jobId)
        .sort(),
    ).toEqual([1003, 1004]);
  });

  it('puts back a letter that fails again, with its replay count raised', async () => {
    const sealed = seal(request, key);
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [letter(failureRecord(sealed), 'h-1')] })
      .resolves({ Messages: [] });
    mintsToken().get('/repos/acme/app/actions/jobs/1001').times(4).reply(502, 'bad gateway');
    const { handler, started } = broker();
    const report = (await handler(SCHEDULE)) as { replays: Record<string, number> };
    expect(report.replays).toEqual({ replayed: 0, requeued: 1, dropped: 0 });
    expect(started).toEqual([]);
    const sent = JSON.parse(
      String(sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody),
    );
    expect(sent).toEqual({ event: sealed, replays: 1 });
  });
});
