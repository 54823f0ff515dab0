import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createWebhookHandler } from '../../src/webhook-handler';
import { captureLog } from '../support/capture-log';
import { captureEmf, metricNames } from '../support/emf';
import {
  TEST_SECRET,
  delivery,
  examplePayload,
  queuedJob,
  sign,
  httpEvent,
  type Shape,
} from '../support/webhook-events';
import { deriveSealKey, isSealed } from '../../src/seal';

const lambdaMock = mockClient(LambdaClient);
const secretsMock = mockClient(SecretsManagerClient);

const baseEnv = {
  WEBHOOK_SECRET: TEST_SECRET,
  BROKER_FUNCTION_NAME: 'lambda-runner-test-broker',
  RUNNER_DISPATCH: 'lambda',
  ALLOWED_OWNERS: '',
};

function setup(env: Record<string, string> = {}) {
  const captured = captureLog();
  const handler = createWebhookHandler({
    env: { ...baseEnv, ...env },
    clients: {
      lambda: new LambdaClient({ region: 'us-east-1' }),
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
    },
    log: captured.log,
  });
  return { handler, ...captured };
}

function body(answer: { body: string }) {
  return JSON.parse(answer.body) as Record<string, unknown>;
}

function invokes() {
  return lambdaMock.commandCalls(InvokeCommand).map((call) => call.args[0].input);
}

beforeEach(() => {
  lambdaMock.reset();
  secretsMock.reset();
  lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('a queued job that a profile serves', () => {
  const shapes: Shape[] = ['v1', 'v2', 'url'];
  const encodings = [
    { base64: false, form: false },
    { base64: true, form: false },
    { base64: false, form: true },
    { base64: true, form: true },
  ];
  for (const shape of shapes) {
    for (const encoding of encodings) {
      it(`is dispatched (${shape}, base64=${encoding.base64}, form=${encoding.form})`, async () => {
        const { handler } = setup();
        const payload = queuedJob();
        const event = delivery(payload, { shape, ...encoding, deliveryId: 'delivery-1' });

        const answer = await handler(event);

        expect(answer.statusCode).toBe(202);
        expect(body(answer)).toMatchObject({
          result: 'dispatched',
          profile: 'default',
          jobId: 289782451,
        });
        expect(invokes()).toHaveLength(1);
        const input = invokes()[0]!;
        expect(input.FunctionName).toBe('lambda-runner-test-broker');
        expect(input.InvocationType).toBe('Event');
        const sent = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString());
        // Sealed with the key derived from the webhook secret: the broker trusts nothing else.
        expect(isSealed(sent, deriveSealKey(TEST_SECRET))).toBe(true);
        expect(sent).toEqual({
          kind: 'dispatch',
          dispatch: 1,
          mac: expect.stringMatching(/^[0-9a-f]{64}$/),
          sealedAt: expect.any(Number),
          installationId: 3456996,
          owner: 'Codertocat',
          repo: 'Hello-World',
          jobId: 289782451,
          runId: expect.any(Number),
          runAttempt: 1,
          jobName: expect.any(String),
          jobCreatedAt: '2021-09-13T02:21:13Z',
          labels: [
            'self-hosted',
            'lambda-runner',
            'linux',
            'x64',
            'aws-cli',
            'sam-cli',
            'python',
            'node',
          ],
          profile: 'default',
          deliveryId: 'delivery-1',
        });
      });
    }
  }

  it('logs one decision line with delivery id, repository, job id, labels, decision and reason', async () => {
    const { handler, records } = setup();
    await handler(delivery(queuedJob(), { deliveryId: 'delivery-log' }));
    const decisions = records().filter((record) => record.decision);
    expect(decisions).toEqual([
      expect.objectContaining({
        deliveryId: 'delivery-log',
        repository: 'Codertocat/Hello-World',
        jobId: 289782451,
        labels: ['self-hosted', 'lambda-runner'],
        decision: 'dispatched',
        reason: expect.stringContaining('default'),
      }),
    ]);
  });

  it('routes to the first matching profile of RUNNER_PROFILES and hands the job to the broker', async () => {
    const { handler } = setup({
      RUNNER_PROFILES: JSON.stringify([
        { name: 'gpu', labels: ['lambda-runner', 'gpu'], functionName: 'gpu-fn' },
        {
          name: 'big',
          labels: ['self-hosted', 'lambda-runner', 'big'],
          functionName: 'big-fn',
          scope: 'org',
          group: 'ci',
        },
      ]),
    });
    const answer = await handler(
      delivery(queuedJob({ labels: ['self-hosted', 'Lambda-Runner', 'BIG'] })),
    );
    expect(answer.statusCode).toBe(202);
    expect(body(answer).profile).toBe('big');
    const sent = JSON.parse(Buffer.from(invokes()[0]!.Payload as Uint8Array).toString());
    expect(invokes()[0]!.FunctionName).toBe('lambda-runner-test-broker');
    expect(sent).toMatchObject({
      profile: 'big',
      scope: 'org',
      group: 'ci',
      labels: ['self-hosted', 'lambda-runner', 'big'],
    });
  });
});

describe('deliveries that are answered 200 and ignored, with no invoke', () => {
  const cases: [string, () => ReturnType<typeof delivery>, RegExp, Record<string, string>?][] = [
    [
      'in_progress',
      () => delivery(examplePayload('workflow_job', 'in_progress')),
      /action "in_progress"/,
    ],
    [
      'completed',
      () => delivery(examplePayload('workflow_job', 'completed')),
      /action "completed"/,
    ],
    ['waiting', () => delivery(examplePayload('workflow_job', 'waiting')), /action "waiting"/],
    ['ping', () => delivery(examplePayload('ping'), { event: 'ping' }), /event "ping"/],
    ['push', () => delivery(examplePayload('push'), { event: 'push' }), /event "push"/],
    [
      'issues',
      () => delivery(examplePayload('issues', 'opened'), { event: 'issues' }),
      /event "issues"/,
    ],
    [
      'no profile matches',
      () => delivery(queuedJob({ labels: ['lambda-runner', 'gpu'] })),
      /no profile offers/,
    ],
    [
      'missing required label',
      () => delivery(queuedJob({ labels: ['self-hosted', 'linux'] })),
      /do not include "lambda-runner"/,
    ],
    [
      'upstream labels (ubuntu-latest)',
      () => delivery(queuedJob({ labels: ['ubuntu-latest'] })),
      /do not include/,
    ],
    ['no labels', () => delivery(queuedJob({ labels: [] })), /no labels/],
    ['public repository', () => delivery(queuedJob({ private: false })), /public/],
    [
      'repository not allowed',
      () => delivery(queuedJob()),
      /not in ALLOWED_REPOSITORIES/,
      { ALLOWED_REPOSITORIES: 'acme/app' },
    ],
    [
      'owner not allowed',
      () => delivery(queuedJob()),
      /ALLOWED_OWNERS/,
      { ALLOWED_OWNERS: 'acme' },
    ],
    [
      'huge labels array',
      () =>
        delivery(
          queuedJob({
            labels: ['lambda-runner', ...Array.from({ length: 20000 }, (_, i) => `label-${i}`)],
          }),
        ),
      /no profile offers/,
    ],
  ];
  for (const [name, make, reason, env] of cases) {
    it(name, async () => {
      const { handler } = setup(env);
      const answer = await handler(make());
      expect(answer.statusCode).toBe(200);
      expect(body(answer)).toEqual({ result: 'ignored', reason: expect.stringMatching(reason) });
      expect(invokes()).toHaveLength(0);
    });
  }

  it('serves an allowed repository, and a public one when ALLOW_PUBLIC_REPOSITORIES=true', async () => {
    const { handler } = setup({
      ALLOWED_REPOSITORIES: 'CodertoCat/hello-world',
      ALLOW_PUBLIC_REPOSITORIES: 'true',
    });
    const answer = await handler(delivery(queuedJob({ private: false })));
    expect(answer.statusCode).toBe(202);
    expect(invokes()).toHaveLength(1);
  });
});

describe('bad input: never a dispatch, never a 5xx', () => {
  const payload = queuedJob();
  const good = JSON.stringify(payload);
  const cases: [string, () => object, number][] = [
    [
      'wrong signature',
      () => delivery(payload, { headers: { 'X-Hub-Signature-256': sign(good, 'other-secret') } }),
      401,
    ],
    [
      'missing signature',
      () => delivery(payload, { headers: { 'X-Hub-Signature-256': undefined } }),
      401,
    ],
    [
      'truncated signature',
      () => delivery(payload, { headers: { 'X-Hub-Signature-256': sign(good).slice(0, 40) } }),
      401,
    ],
    [
      'sha1 signature only',
      () =>
        delivery(payload, {
          headers: { 'X-Hub-Signature-256': undefined, 'X-Hub-Signature': 'sha1=abc' },
        }),
      401,
    ],
    [
      'body altered after signing',
      () =>
        delivery(payload, {
          headers: { 'X-Hub-Signature-256': sign(good) },
          body: good.replace('lambda-runner', 'lambda-runnex'),
        }),
      401,
    ],
    [
      'form body altered after signing',
      () =>
        delivery(payload, {
          form: true,
          headers: { 'X-Hub-Signature-256': sign(`payload=${encodeURIComponent(good)}`) },
          body: `payload=${encodeURIComponent(good)}&x=1`,
        }),
      401,
    ],
    ['non-JSON body, validly signed', () => delivery(payload, { body: 'not json {' }), 400],
    [
      'form without payload field, validly signed',
      () => delivery(payload, { form: true, body: 'other=1' }),
      400,
    ],
    ['empty body', () => delivery(payload, { body: '' }), 400],
    [
      'missing event header',
      () => delivery(payload, { headers: { 'X-GitHub-Event': undefined } }),
      400,
    ],
    [
      'missing delivery header',
      () => delivery(payload, { headers: { 'X-GitHub-Delivery': undefined } }),
      400,
    ],
    ['not an HTTP event at all', () => ({}), 400],
    ['GET request', () => ({ ...httpEvent('v1', {}, '', false), httpMethod: 'GET' }), 405],
  ];
  for (const [name, make, status] of cases) {
    it(`${name} -> ${status}`, async () => {
      const { handler } = setup();
      const answer = await handler(make() as never);
      expect(answer.statusCode).toBe(status);
      expect(body(answer).result).toBe('rejected');
      expect(invokes()).toHaveLength(0);
    });
  }

  it('answers null as a malformed request', async () => {
    const { handler } = setup();
    expect((await handler(null)).statusCode).toBe(400);
  });
});

describe('dispatch failures answer 5xx so GitHub can redeliver', () => {
  it('invoke throws -> 503', async () => {
    lambdaMock.on(InvokeCommand).rejects(new Error('Rate exceeded'));
    const { handler, records } = setup();
    const answer = await handler(delivery(queuedJob(), { deliveryId: 'failing' }));
    expect(answer.statusCode).toBe(503);
    expect(body(answer)).toMatchObject({
      result: 'error',
      reason: expect.stringContaining('Rate exceeded'),
    });
    expect(records()).toContainEqual(
      expect.objectContaining({ deliveryId: 'failing', decision: 'failed' }),
    );
  });

  it('invoke answers other than 202 -> 503', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 500 });
    const { handler } = setup();
    expect((await handler(delivery(queuedJob()))).statusCode).toBe(503);
  });

  it("an invoke still hanging when the function's time runs out -> 503 before the timeout, not the gateway's answer", async () => {
    lambdaMock.on(InvokeCommand).callsFake(() => new Promise(() => undefined));
    const { handler, records } = setup();
    // One second left: the webhook's margin, so it answers at once.
    const answer = await handler(delivery(queuedJob(), { deliveryId: 'slow' }), {
      getRemainingTimeInMillis: () => 1000,
    });
    expect(answer.statusCode).toBe(503);
    expect(body(answer)).toMatchObject({
      result: 'error',
      reason: expect.stringContaining('ran out of time'),
    });
    expect(records()).toContainEqual(
      expect.objectContaining({ deliveryId: 'slow', decision: 'failed' }),
    );
  });

  it('with time to spare the same delivery is dispatched (the guard waits for the work)', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
    const { handler } = setup();
    const answer = await handler(delivery(queuedJob()), {
      getRemainingTimeInMillis: () => 10_000,
    });
    expect(answer.statusCode).toBe(202);
  });
});

describe('secrets', () => {
  it('reads WEBHOOK_SECRET_ARN from Secrets Manager once per container', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: TEST_SECRET });
    const { handler } = setup({
      WEBHOOK_SECRET: '',
      WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:hook',
    });
    expect((await handler(delivery(queuedJob()))).statusCode).toBe(202);
    expect((await handler(delivery(queuedJob()))).statusCode).toBe(202);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]!.args[0].input.SecretId).toBe(
      'arn:aws:secretsmanager:us-east-1:1:secret:hook',
    );
  });

  it('answers 500 while the secret cannot be read, and recovers when it can', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error('AccessDenied'))
      .resolves({ SecretString: TEST_SECRET });
    const { handler } = setup({ WEBHOOK_SECRET: '', WEBHOOK_SECRET_ARN: 'hook' });
    expect((await handler(delivery(queuedJob()))).statusCode).toBe(500);
    expect((await handler(delivery(queuedJob()))).statusCode).toBe(202);
  });

  it('never writes the webhook secret to a log line', async () => {
    const { handler, lines } = setup({ LOG_LEVEL: 'trace' });
    await handler(delivery(queuedJob()));
    await handler(delivery(queuedJob(), { headers: { 'X-Hub-Signature-256': sign('x', 'nope') } }));
    await handler(delivery(examplePayload('ping'), { event: 'ping' }));
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.join('\n')).not.toContain(TEST_SECRET);
  });

  it('answers 500 with a clear log line when configuration is invalid', async () => {
    const { handler, records } = setup({
      BROKER_FUNCTION_NAME: '',
      RUNNER_IDLE: 'x',
      ALLOW_PUBLIC_REPOSITORIES: 'yes',
    });
    const answer = await handler(delivery(queuedJob()));
    expect(answer.statusCode).toBe(500);
    const logged = JSON.stringify(records());
    expect(logged).toContain('BROKER_FUNCTION_NAME is required');
    expect(logged).toContain('ALLOW_PUBLIC_REPOSITORIES');
    expect(invokes()).toHaveLength(0);
  });
});

describe('metrics (CloudWatch EMF)', () => {
  it('counts each decision by result and a fixed reason code', async () => {
    const emf = captureEmf();
    try {
      const { handler } = setup();
      await handler(delivery(queuedJob()));
      await handler(delivery(examplePayload('workflow_job', 'completed')));
      await handler(delivery(queuedJob({ private: false })));
      await handler(
        delivery(queuedJob(), { headers: { 'X-Hub-Signature-256': sign('x', 'nope') } }),
      );
    } finally {
      emf.restore();
    }
    expect(emf.lines.map((line) => [line.decision, line.reason, line.Deliveries])).toEqual([
      ['dispatched', 'default', 1],
      ['ignored', 'action-not-queued', 1],
      ['ignored', 'public-repository', 1],
      ['rejected', 'bad-signature', 1],
    ]);
    expect(
      emf.lines.every(
        (line) => metricNames(line).includes('Deliveries') && line.service === 'webhook',
      ),
    ).toBe(true);
  });
});

describe('a bad LOG_LEVEL', () => {
  it('is answered 500 with a line naming it, and never crashes the handler', async () => {
    const handler = createWebhookHandler({
      env: { ...baseEnv, LOG_LEVEL: 'verbose' },
      clients: {
        lambda: new LambdaClient({ region: 'us-east-1' }),
        secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      },
    });
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const answer = await handler(delivery(queuedJob()));
      expect(answer.statusCode).toBe(500);
      const logged = stdout.mock.calls.map((call) => String(call[0])).join('');
      expect(logged).toContain(
        'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got \\"verbose\\"',
      );
    } finally {
      stdout.mockRestore();
    }
    expect(invokes()).toHaveLength(0);
  });
});
