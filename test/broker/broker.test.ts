import nock from 'nock';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { deriveSealKey, isSealed, seal } from '../../src/seal';
import { registeredLabel } from '../../src/broker/janitor';
import type { RunnerPayload } from '../../runner/runner-payload';
import { dispatchRequest, sealedRunnerPayload } from '../support/dispatch-request';
import { appKeys, encodeJitConfig } from '../support/github-app';
import {
  mintsToken,
  settlesThenDispatchesAgain,
  testBroker,
  resetEachTest,
} from '../support/test-broker';
import { TEST_SECRET } from '../support/webhook-events';

const lambdaMock = mockClient(LambdaClient);
const key = deriveSealKey(TEST_SECRET);
const hour = 3600_000;

const request = dispatchRequest({ labels: ['self-hosted', 'lambda-runner', 'linux'] });

const PROFILES = JSON.stringify([
  { name: 'default', labels: request.labels, functionName: 'runner-default' },
]);

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
resetEachTest(lambdaMock);

const broker = (env: Record<string, string> = {}) =>
  testBroker({
    APP_ID: '4242',
    PRIVATE_KEY: appKeys.privateKey,
    WEBHOOK_SECRET: TEST_SECRET,
    RUNNER_PROFILES: PROFILES,
    ...env,
  });

const github = () => mintsToken();

const jobStatus = (scope: nock.Scope, status: string) =>
  scope.get('/repos/acme/app/actions/jobs/1001').reply(200, { id: 1001, status });

/** A runner as GitHub lists it, registered `ageMs` ago (its lambda-runner-at label). */
function runnerNamed(name: string, state: { status: string; busy?: boolean; ageMs: number }) {
  return {
    id: 4242,
    name,
    os: 'Linux',
    status: state.status,
    busy: state.busy ?? false,
    labels: [{ id: 1, name: registeredLabel(Date.now() - state.ageMs), type: 'custom' }],
  };
}

const invoked = () =>
  lambdaMock.commandCalls(InvokeCommand).map((call) => ({
    function: call.args[0].input.FunctionName,
    type: call.args[0].input.InvocationType,
    payload: JSON.parse(Buffer.from(call.args[0].input.Payload as Uint8Array).toString()),
  }));

describe('the broker: dispatch requests', () => {
  it('registers a JIT runner for a queued job and starts the profile runner with that alone', async () => {
    const { handler, lines } = broker();
    let body: { name?: string; labels?: string[] } = {};
    jobStatus(github(), 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig', (b) => {
        body = b;
        return true;
      })
      .reply(201, { runner: { id: 555 }, encoded_jit_config: encodeJitConfig(555, 'x') });

    await expect(handler(seal(request, key))).resolves.toEqual({ result: 'started' });

    expect(body.name).toBe('lambda-1001-1-1');
    expect(body.labels).toEqual(expect.arrayContaining(request.labels));
    const [call, ...more] = invoked();
    expect(more).toEqual([]);
    expect(call).toMatchObject({ function: 'runner-default', type: 'Event' });
    const payload = call!.payload as RunnerPayload;
    expect(payload).toMatchObject({
      kind: 'runner',
      runnerName: 'lambda-1001-1-1',
      runnerId: 555,
      scope: 'repo',
      credential: { jitConfig: encodeJitConfig(555, 'x') },
    });
    // Sealed, so the broker can trust it when the destination record brings it back.
    expect(isSealed(payload, key)).toBe(true);
    // Nothing in it, and no log line, can act as the App.
    const text = JSON.stringify(payload) + lines.join('\n');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('ghs_installation');
    expect(lines.join('\n')).not.toContain(
      payload.credential && 'jitConfig' in payload.credential ? payload.credential.jitConfig : 'x',
    );
  });

  it('in token mode, hands the runner a registration token and the URL to register at', async () => {
    const { handler } = broker({ RUNNER_REGISTRATION: 'token' });
    jobStatus(github(), 'queued')
      .post('/repos/acme/app/actions/runners/registration-token')
      .reply(201, { token: 'AREGTOKEN', expires_at: new Date(Date.now() + hour).toISOString() });
    await handler(seal(request, key));
    expect(invoked()[0]!.payload.credential).toEqual({
      token: 'AREGTOKEN',
      url: 'https://github.com/acme/app',
    });
  });

  it.each([
    ['unsealed', { ...request }],
    ['sealed with another key', seal(request, deriveSealKey('not-the-secret'))],
    ['tampered after sealing', { ...seal(request, key), jobId: 2002 }],
    ['a runner payload replayed as a dispatch', seal({ ...request, kind: 'runner' }, key)],
  ])('refuses a dispatch request %s: no GitHub call, no runner', async (_name, event) => {
    const { handler, records } = broker();
    await expect(handler(event)).resolves.toEqual({ result: 'refused' });
    expect(invoked()).toEqual([]);
    expect(records().some((r) => r.decision === 'refused')).toBe(true);
  });

  it.each([
    ['sealed 25 hours ago, after GitHub gave up on the job', Date.now() - 25 * hour],
    ['sealed an hour from now', Date.now() + hour],
  ])('refuses a dispatch request %s: no GitHub call, no runner', async (_name, sealedAt) => {
    const { handler, lines } = broker();
    await expect(handler(seal(request, key, sealedAt))).resolves.toEqual({ result: 'refused' });
    expect(invoked()).toEqual([]);
    expect(lines.join('\n')).toMatch(/dispatch request refused: (it was sealed|its seal time)/);
  });

  it('starts nothing for a job that is no longer queued', async () => {
    const { handler } = broker();
    jobStatus(github(), 'in_progress');
    await expect(handler(seal(request, key))).resolves.toEqual({ result: 'not-queued' });
    expect(invoked()).toEqual([]);
  });

  it('stops at 409: a runner of that name exists, so a replayed request gets no second runner', async () => {
    const { handler } = broker();
    const existing = runnerNamed('lambda-1001-1-1', { status: 'online', ageMs: 300_000 });
    jobStatus(github(), 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(409, { message: 'Already exists' })
      .get('/repos/acme/app/actions/runners')
      .query({ name: 'lambda-1001-1-1', per_page: 100 })
      .reply(200, { total_count: 1, runners: [existing] });
    await expect(handler(seal(request, key))).resolves.toEqual({ result: 'duplicate' });
    expect(invoked()).toEqual([]);
  });

  // A broker that registered the runner and died before starting it (a timeout, a crash) leaves
  // a registration no listener will use; Lambda retries the event a minute or more later.
  const deadBroker: [string, { status: string; busy?: boolean; ageMs: number }, string][] = [
    [
      'offline, idle, past the start grace: a dead broker left it',
      { status: 'offline', ageMs: 120_000 },
      'started',
    ],
    [
      'offline but young: another dispatch is starting it now',
      { status: 'offline', ageMs: 5_000 },
      'duplicate',
    ],
    ['online: its listener waits for the job', { status: 'online', ageMs: 120_000 }, 'duplicate'],
    ['busy: it runs the job', { status: 'online', busy: true, ageMs: 120_000 }, 'duplicate'],
  ];
  for (const [situation, state, outcome] of deadBroker) {
    it(`409 on a runner ${situation}: ${outcome}`, async () => {
      const { handler } = broker();
      const existing = runnerNamed('lambda-1001-1-1', state);
      const scope = jobStatus(github(), 'queued')
        .post('/repos/acme/app/actions/runners/generate-jitconfig')
        .reply(409, { message: 'Already exists' })
        .get('/repos/acme/app/actions/runners')
        .query({ name: 'lambda-1001-1-1', per_page: 100 })
        .reply(200, { total_count: 1, runners: [existing] });
      if (outcome === 'started')
        scope
          .delete(`/repos/acme/app/actions/runners/${existing.id}`)
          .reply(204)
          .post('/repos/acme/app/actions/runners/generate-jitconfig')
          .reply(201, { runner: { id: 778 }, encoded_jit_config: encodeJitConfig(778, 'x') });
      await expect(handler(seal(request, key))).resolves.toEqual({ result: outcome });
      expect(invoked().map((call) => call.payload.runnerName)).toEqual(
        outcome === 'started' ? ['lambda-1001-1-1'] : [],
      );
    });
  }

  it('never goes past the dispatch limit', async () => {
    const { handler } = broker({ RUNNER_MAX_DISPATCHES: '3' });
    await expect(handler(seal({ ...request, dispatch: 4 }, key))).resolves.toEqual({
      result: 'limit',
    });
    expect(invoked()).toEqual([]);
  });

  it('deletes the registration when the runner cannot be started, and fails so Lambda retries', async () => {
    const { handler } = broker();
    lambdaMock.on(InvokeCommand).rejects(new Error('Rate exceeded'));
    jobStatus(github(), 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 556 }, encoded_jit_config: encodeJitConfig(556, 'x') })
      .delete('/repos/acme/app/actions/runners/556')
      .reply(204);
    await expect(handler(seal(request, key))).rejects.toThrow(/invoking runner-default failed/);
  });

  it('fails (for Lambda to retry) when GitHub cannot say whether the job waits', async () => {
    const { handler } = broker();
    github().get('/repos/acme/app/actions/jobs/1001').times(4).reply(502, 'bad gateway');
    await expect(handler(seal(request, key))).rejects.toThrow(/job status failed \(502\)/);
    expect(invoked()).toEqual([]);
  });
});

const sealedPayload = (overrides: Partial<RunnerPayload> = {}, sealedAt = Date.now()) =>
  sealedRunnerPayload(request, key, overrides, sealedAt);

const record = (requestPayload: unknown, condition = 'Success', responsePayload: unknown = {}) => ({
  version: '1.0',
  timestamp: new Date().toISOString(),
  requestContext: {
    requestId: 'r-1',
    functionArn: 'arn:aws:lambda:us-east-1:1:function:runner-default:$LATEST',
    condition,
    approximateInvokeCount: 1,
  },
  requestPayload,
  responseContext: { statusCode: 200, executedVersion: '$LATEST' },
  responsePayload,
});

describe('the broker: runner destination records', () => {
  it('deletes an unused registration and does nothing more once the job has moved on', async () => {
    const { handler } = broker();
    const scope = github()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: false, status: 'offline' })
      .delete('/repos/acme/app/actions/runners/555')
      .reply(204);
    jobStatus(scope, 'completed');
    // The runner claims success and that its registration is gone: neither is believed.
    await expect(
      handler(
        record(sealedPayload(), 'Success', { outcome: 'completed', registrationDeleted: true }),
      ),
    ).resolves.toEqual({ runnerName: 'lambda-1001-1-1', registration: 'deleted' });
    expect(invoked()).toEqual([]);
  });

  it("leaves a busy runner alone (the Lambda died mid-job; the registration is the job's)", async () => {
    const { handler } = broker();
    const scope = github()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: true, status: 'online' });
    jobStatus(scope, 'in_progress');
    await expect(handler(record(sealedPayload(), 'RetriesExhausted'))).resolves.toMatchObject({
      registration: 'busy',
    });
    expect(invoked()).toEqual([]);
  });

  it('dispatches the job again under the next name when it still waits after its runner failed', async () => {
    const { handler } = broker();
    settlesThenDispatchesAgain();
    await expect(handler(record(sealedPayload(), 'RetriesExhausted'))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'deleted',
      redispatch: 'started',
    });
    expect(invoked().map((call) => call.payload.runnerName)).toEqual(['lambda-1001-1-2']);
  });

  it('an idle runner whose job another runner took: deleted, and no new runner', async () => {
    const { handler } = broker();
    const scope = github()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'lambda-1001-1-1', busy: false, status: 'online' })
      .delete('/repos/acme/app/actions/runners/555')
      .reply(204);
    jobStatus(scope, 'in_progress');
    await expect(handler(record(sealedPayload(), 'Success', { outcome: 'idle' }))).resolves.toEqual(
      {
        runnerName: 'lambda-1001-1-1',
        registration: 'deleted',
      },
    );
    expect(invoked()).toEqual([]);
  });

  it('a replayed record: the registration is already gone, and the redispatch stops at 409', async () => {
    const { handler } = broker();
    const scope = github().get('/repos/acme/app/actions/runners/555').reply(404, {});
    jobStatus(scope, 'queued')
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(409, { message: 'Already exists' })
      .get('/repos/acme/app/actions/runners')
      .query({ name: 'lambda-1001-1-2', per_page: 100 })
      .reply(200, {
        total_count: 1,
        runners: [runnerNamed('lambda-1001-1-2', { status: 'online', ageMs: 1_000 })],
      });
    await expect(handler(record(sealedPayload()))).resolves.toEqual({
      runnerName: 'lambda-1001-1-1',
      registration: 'gone',
      redispatch: 'duplicate',
    });
    expect(invoked()).toEqual([]);
  });

  it('never redispatches past the limit', async () => {
    const { handler } = broker({ RUNNER_MAX_DISPATCHES: '2' });
    const scope = github().get('/repos/acme/app/actions/runners/555').reply(404, {});
    jobStatus(scope, 'queued');
    await expect(handler(record(sealedPayload({ dispatch: 2 })))).resolves.toMatchObject({
      redispatch: 'limit',
    });
    expect(invoked()).toEqual([]);
  });

  it.each([
    ['unsealed', { ...sealedPayload(), mac: undefined }],
    ['pointing at another runner', { ...sealedPayload(), runnerId: 999 }],
    [
      'forged with a made-up key',
      seal({ ...sealedPayload(), mac: undefined }, deriveSealKey('guess')),
    ],
    ['a dispatch request, not a runner payload', seal(request, key)],
  ])('a forged record %s: nothing deleted, no runner, no GitHub call', async (_name, payload) => {
    const { handler, records } = broker();
    await expect(handler(record(payload))).resolves.toEqual({ registration: 'untouched' });
    expect(invoked()).toEqual([]);
    expect(records().some((r) => r.decision === 'refused')).toBe(true);
  });

  it('refuses a runner payload sealed longer ago than a runner event can live: a replay', async () => {
    // Event age 1 hour, the runner's 15 minutes and 15 for delivery: 90 minutes at most.
    const { handler, lines } = broker({ RUNNER_EVENT_MAX_AGE_SECONDS: '3600' });
    const old = sealedPayload({}, Date.now() - 91 * 60_000);
    await expect(handler(record(old))).resolves.toEqual({ registration: 'untouched' });
    expect(invoked()).toEqual([]);
    expect(lines.join('\n')).toMatch(/destination record refused: it was sealed 91 min ago/);
    // One sealed 89 minutes ago is still its runner's record, and is settled.
    const scope = github().get('/repos/acme/app/actions/runners/555').reply(404, {});
    jobStatus(scope, 'completed');
    await expect(
      handler(record(sealedPayload({}, Date.now() - 89 * 60_000))),
    ).resolves.toMatchObject({ registration: 'gone' });
  });

  it("records the job's conclusion as GitHub reports it, whatever the runner said", async () => {
    const { handler, records } = broker();
    const scope = github().get('/repos/acme/app/actions/runners/555').reply(404, {});
    scope
      .get('/repos/acme/app/actions/jobs/1001')
      .reply(200, { id: 1001, status: 'completed', conclusion: 'failure' });
    // The runner (so the job) claims success.
    await handler(
      record(sealedPayload(), 'Success', { outcome: 'completed', jobResult: 'Succeeded' }),
    );
    expect(records().find((r) => r.msg === 'runner settled')).toMatchObject({
      jobStatus: 'completed',
      jobConclusion: 'failure',
    });
  });

  it('never deletes a runner whose name is not the one it sealed', async () => {
    const { handler } = broker();
    const scope = github()
      .get('/repos/acme/app/actions/runners/555')
      .reply(200, { id: 555, name: 'someone-elses-runner', busy: false, status: 'online' });
    jobStatus(scope, 'completed');
    await expect(handler(record(sealedPayload()))).resolves.toMatchObject({ registration: 'gone' });
  });
});

it('refuses an event of no kind it knows', async () => {
  const { handler } = broker();
  await expect(handler({ hello: 'world' })).resolves.toEqual({ result: 'refused' });
  await expect(handler(null)).resolves.toEqual({ result: 'refused' });
});

describe('events checked before they are read', () => {
  const nested = (depth: number) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i += 1) value = { inner: value };
    return value;
  };
  it.each([
    ['a destination record nested 5,000 deep', record(nested(5000))],
    ['a dispatch request nested 5,000 deep', { ...request, labels: [nested(5000)] }],
    ['a destination record with 1 MB of text', record({ filler: 'x'.repeat(1 << 20) })],
    ['a record of 100,000 values', record(Array.from({ length: 100_000 }, (_, i) => i))],
  ])(
    '%s is refused with a log line, not thrown (no retries, no dead letter)',
    async (_name, event) => {
      const { handler, lines } = broker();
      await expect(handler(event)).resolves.toEqual({ result: 'refused' });
      expect(invoked()).toEqual([]);
      expect(lines.join('\n')).toMatch(/broker event refused: (nested deeper|more than)/);
    },
  );

  it('reads a real destination record, within the limits', async () => {
    const { handler } = broker();
    const scope = github().get('/repos/acme/app/actions/runners/555').reply(404, {});
    jobStatus(scope, 'completed');
    await expect(handler(record(sealedPayload()))).resolves.toMatchObject({ registration: 'gone' });
  });
});
