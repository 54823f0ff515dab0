import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createWebhookHandler } from '../../src/webhook-handler';
import { deriveSealKey, isSealed } from '../../src/seal';
import { captureLog } from '../support/capture-log';
import { TEST_SECRET, delivery, queuedJob } from '../support/webhook-events';

const lambdaMock = mockClient(LambdaClient);
const sqsMock = mockClient(SQSClient);
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/lambda-runner-test-dispatch';

function setup() {
  const captured = captureLog();
  const handler = createWebhookHandler({
    env: { WEBHOOK_SECRET: TEST_SECRET, RUNNER_DISPATCH: 'queue', DISPATCH_QUEUE_URL: QUEUE },
    clients: {
      lambda: new LambdaClient({ region: 'us-east-1' }),
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      sqs: new SQSClient({ region: 'us-east-1' }),
    },
    log: captured.log,
  });
  return { handler, ...captured };
}

const sent = () => sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);

beforeEach(() => {
  lambdaMock.reset();
  sqsMock.reset();
});

describe('dispatch through the broker queue (as deployed)', () => {
  it('answers 202 once the queue stored the sealed request, and invokes no function', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const { handler } = setup();
    const answer = await handler(delivery(queuedJob(), { deliveryId: 'queued-1' }));
    expect(answer.statusCode).toBe(202);
    const [message, ...more] = sent();
    expect(more).toEqual([]);
    expect(message!.QueueUrl).toBe(QUEUE);
    const request = JSON.parse(message!.MessageBody!) as Record<string, unknown>;
    expect(request).toMatchObject({ kind: 'dispatch', jobId: 289782451, deliveryId: 'queued-1' });
    expect(isSealed(request, deriveSealKey(TEST_SECRET))).toBe(true);
    expect(lambdaMock.commandCalls(InvokeCommand)).toEqual([]);
  });

  it('answers 503 when the queue does not take the job, so GitHub can redeliver it', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('ServiceUnavailable'));
    const { handler, lines } = setup();
    const answer = await handler(delivery(queuedJob(), { deliveryId: 'queued-2' }));
    expect(answer.statusCode).toBe(503);
    expect(lines.join('\n')).toContain('the dispatch queue did not take the job');
  });

  it('refuses to start without the queue it must send to, naming the setting', async () => {
    const captured = captureLog();
    const handler = createWebhookHandler({
      env: { WEBHOOK_SECRET: TEST_SECRET, RUNNER_DISPATCH: 'queue' },
      clients: {
        lambda: new LambdaClient({ region: 'us-east-1' }),
        secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      },
      log: captured.log,
    });
    const answer = await handler(delivery(queuedJob()));
    expect(answer.statusCode).toBe(500);
    expect(captured.lines.join('\n')).toContain(
      'DISPATCH_QUEUE_URL is required when RUNNER_DISPATCH=queue',
    );
    expect(answer.body).not.toContain(TEST_SECRET);
    expect(sent()).toEqual([]);
  });
});
