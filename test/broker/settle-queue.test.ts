import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, seal } from '../../src/seal';
import { toDeadLetter } from '../../src/broker/dead-letters';
import { queueUrlOf } from '../../src/broker/queue-events';
import { jobStory } from '../../src/job-story';
import { stateChange } from '../../src/local-builds';
import { dispatchRequest, sealedRunnerPayload } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import {
  GITHUB_API,
  mintsToken,
  resetEachTest,
  settlesThenDispatchesAgain,
  testBroker,
} from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

const lambdaMock = mockClient(LambdaClient);
const sqsMock = mockClient(SQSClient);
const key = deriveSealKey(TEST_SECRET);
const request = dispatchRequest();
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:lambda-runner-test-settle';

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
resetEachTest(lambdaMock);
beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
});

const broker = () =>
  testBroker({
    APP_ID: '4242',
    PRIVATE_KEY: appKeys.privateKey,
    WEBHOOK_SECRET: TEST_SECRET,
    RUNNER_PROFILES: JSON.stringify([
      { name: 'default', labels: request.labels, functionName: 'runner-default' },
    ]),
  });

/** A destination record as Lambda writes it to an SQS destination. */
const record = (condition = 'RetriesExhausted') => ({
  version: '1.0',
  timestamp: new Date().toISOString(),
  requestContext: {
    requestId: 'r-1',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:runner-default:7',
    condition,
    approximateInvokeCount: 1,
  },
  requestPayload: sealedRunnerPayload(request, key),
  responseContext: { statusCode: 200, executedVersion: '7' },
  responsePayload: { outcome: 'completed' },
});

/** The batch an event source mapping hands the broker. */
const batch = (...bodies: string[]) => ({
  Records: bodies.map((body, index) => ({
    messageId: `m-${index}`,
    receiptHandle: `handle-${index}`,
    body,
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE_ARN,
    awsRegion: 'us-east-1',
  })),
});

describe('the settle queue: runner destination records and build state changes by SQS', () => {
  it('settles a destination record from its message, and deletes it (no batch failure)', async () => {
    const { handler } = broker();
    settlesThenDispatchesAgain();
    await expect(handler(batch(JSON.stringify(record())))).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('refuses what a job could send (a forged record, a schedule, no JSON) and deletes it', async () => {
    const { handler, lines } = broker();
    const forged = {
      ...record(),
      requestPayload: { ...sealedRunnerPayload(request, key), jobId: 9 },
    };
    const schedule = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    await expect(
      handler(batch(JSON.stringify(forged), JSON.stringify(schedule), 'not json')),
    ).resolves.toEqual({ batchItemFailures: [] });
    const text = lines.join('\n');
    expect(text).toContain('destination record refused');
    expect(text).toContain('schedule event refused: it came through a queue');
    expect(text).toContain('queued event refused: not JSON');
    expect(lambdaMock.commandCalls(InvokeCommand)).toEqual([]);
  });

  it('keeps a message whose settling failed, and only that one', async () => {
    const { handler } = broker();
    mintsToken()
      .get('/repos/acme/app/actions/runners/555')
      .reply(404, {})
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(404, { message: 'Not Found' });
    const build = stateChange('p:1', 'p', 'SUCCEEDED', [
      { name: 'LAMBDA_RUNNER_PAYLOAD', value: 'no payload' },
    ]);
    await expect(
      handler(batch(JSON.stringify(record('Success')), JSON.stringify(build))),
    ).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }] });
  });

  it('hides a message GitHub asked to wait for until the wait ends: no broker sees it before', async () => {
    const { handler, lines } = broker();
    mintsToken()
      .get('/repos/acme/app/actions/runners/555')
      .reply(429, { message: 'slow down' }, { 'retry-after': '600' });
    const started = Date.now();
    await expect(handler(batch(JSON.stringify(record())))).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'm-0' }],
    });
    const [hide, ...more] = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
    expect(more).toEqual([]);
    expect(hide!.args[0].input).toMatchObject({
      QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/lambda-runner-test-settle',
      ReceiptHandle: 'handle-0',
    });
    const visibility = hide!.args[0].input.VisibilityTimeout!;
    expect(visibility).toBeGreaterThanOrEqual(595);
    expect(visibility).toBeLessThanOrEqual(600 + Math.ceil((Date.now() - started) / 1000));
    // explain tells the job's story with the wait in it.
    const story = jobStory([{ source: 'broker', text: lines.join('\n') }], 1001);
    expect(story).toContainEqual(
      expect.stringMatching(
        new RegExp(`broker: GitHub asked to wait; the job waits in its queue ${visibility} s`),
      ),
    );
  });
});

describe('the dispatch queue: jobs wait in it, not in a running function', () => {
  it("starts a runner for a sealed request, and hides one GitHub asked to wait for (another installation's)", async () => {
    const { handler } = broker();
    mintsToken()
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(200, { id: 1001, status: 'queued' })
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 555 }, encoded_jit_config: encodeJitConfig(555, 'x') });
    // Installation 78's window holds its own job only: no call for 78 inside it, 77's goes on.
    mintsToken(nock(GITHUB_API), 78)
      .get('/repos/acme/app/actions/jobs/1002')
      .reply(
        403,
        { message: 'You have exceeded a secondary rate limit' },
        { 'retry-after': '300' },
      );
    const other = seal({ ...request, jobId: 1002, installationId: 78 }, key);
    await expect(
      handler(batch(JSON.stringify(seal(request, key)), JSON.stringify(other))),
    ).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
    const [hide] = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
    expect(hide!.args[0].input).toMatchObject({ ReceiptHandle: 'handle-1' });
    expect(hide!.args[0].input.VisibilityTimeout).toBeGreaterThanOrEqual(295);
  });
});

describe('dead letters the settle queue redrives', () => {
  it('are read as the event itself; an on-failure record of the broker as its payload', () => {
    const message = record();
    expect(toDeadLetter('h', JSON.stringify(message)).event).toEqual(message);
    const build = stateChange('p:1', 'p', 'FAILED', []);
    expect(toDeadLetter('h', JSON.stringify(build)).event).toEqual(build);
    const dispatch = seal(request, key);
    const onFailure = {
      requestContext: { condition: 'RetriesExhausted' },
      requestPayload: dispatch,
    };
    expect(toDeadLetter('h', JSON.stringify(onFailure)).event).toEqual(dispatch);
    expect(queueUrlOf('arn:aws:sqs:eu-west-1:123456789012:q')).toBe(
      'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
    );
  });
});
