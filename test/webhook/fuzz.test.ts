import { createHmac } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createWebhookHandler } from '../../src/webhook-handler';
import { captureLog } from '../support/capture-log';
import {
  TEST_SECRET,
  examplePayload,
  httpEvent,
  queuedJob,
  sign,
  type Shape,
} from '../support/webhook-events';

const lambdaMock = mockClient(LambdaClient);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

const handler = createWebhookHandler({
  env: {
    WEBHOOK_SECRET: TEST_SECRET,
    BROKER_FUNCTION_NAME: 'broker',
    RUNNER_DISPATCH: 'lambda',
    LOG_LEVEL: 'silent',
  },
  clients: {
    lambda: new LambdaClient({ region: 'us-east-1' }),
    secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
  },
  log: captureLog('silent').log,
});

const validBodies = [
  JSON.stringify(queuedJob()),
  JSON.stringify(examplePayload('workflow_job', 'completed')),
  JSON.stringify(examplePayload('ping')),
];

/** A body: a real one, a real one mutated at a random place, or random text. */
const body = fc.oneof(
  fc.constantFrom(...validBodies),
  fc
    .tuple(fc.constantFrom(...validBodies), fc.nat(), fc.string({ maxLength: 8 }))
    .map(([text, at, insert]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + insert + text.slice(i + 1);
    }),
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  fc.constant(''),
);

/** A signature: right for the body, right for another body, random, truncated, or missing. */
const signature = (raw: string) =>
  fc.oneof(
    fc.constant<string | undefined>(sign(raw)),
    fc.constant<string | undefined>(sign(`${raw} `)),
    fc.constant<string | undefined>(undefined),
    fc.hexaString({ minLength: 0, maxLength: 64 }).map((hex) => `sha256=${hex}`),
    fc.constant<string | undefined>(sign(raw).slice(0, 20)),
    fc.string({ maxLength: 80 }),
  );

const caseArb = fc
  .record({
    body,
    shape: fc.constantFrom<Shape>('v1', 'v2', 'url'),
    base64: fc.boolean(),
    form: fc.boolean(),
    event: fc.option(fc.constantFrom('workflow_job', 'ping', 'push', 'issues', ''), {
      nil: undefined,
    }),
    delivery: fc.option(fc.uuid(), { nil: undefined }),
    upper: fc.boolean(),
    method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'),
  })
  .chain((c) => {
    const raw = c.form ? `payload=${encodeURIComponent(c.body)}` : c.body;
    return signature(raw).map((sig) => ({ ...c, raw, sig }));
  });

function expectedSignature(raw: string): string {
  return `sha256=${createHmac('sha256', TEST_SECRET).update(raw).digest('hex')}`;
}

describe('fuzzing the webhook handler', () => {
  beforeEach(() => {
    lambdaMock.reset();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });
  });

  it(`answers ${RUNS} random and mutated deliveries without a crash, a 5xx, or a dispatch without a valid signature`, async () => {
    let dispatched = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        lambdaMock.resetHistory();
        const name = (header: string) => (c.upper ? header.toUpperCase() : header);
        const headers: Record<string, string | undefined> = {
          [name('content-type')]: c.form ? 'application/x-www-form-urlencoded' : 'application/json',
          [name('x-github-event')]: c.event,
          [name('x-github-delivery')]: c.delivery,
          [name('x-hub-signature-256')]: c.sig,
        };
        const event = httpEvent(
          c.shape,
          headers,
          c.base64 ? Buffer.from(c.raw).toString('base64') : c.raw,
          c.base64,
        ) as Record<string, unknown>;
        if (c.shape === 'v1') event.httpMethod = c.method;
        else (event.requestContext as { http: { method: string } }).http.method = c.method;

        const answer = await handler(event as never);

        expect([200, 202, 400, 401, 405]).toContain(answer.statusCode);
        expect(() => JSON.parse(answer.body)).not.toThrow();
        const invoked = lambdaMock.commandCalls(InvokeCommand).length;
        if (invoked > 0) {
          dispatched += 1;
          expect(c.sig).toBe(expectedSignature(c.raw));
          expect(answer.statusCode).toBe(202);
        }
        if (c.sig !== expectedSignature(c.raw)) expect(invoked).toBe(0);
      }),
      { numRuns: RUNS },
    );
    // The generator reaches the dispatch path too, or the property above would prove little.
    expect(dispatched).toBeGreaterThan(0);
  });
});
