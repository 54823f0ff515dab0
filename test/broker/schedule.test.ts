import nock from 'nock';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createBrokerHandler } from '../../src/broker/handler';
import { captureLog } from '../support/capture-log';
import { appKeys, verifyAppJwt } from '../support/github-app';

const API = 'https://api.github.com';
const hour = 3600_000;
const at = (ms: number) => ({
  id: 9,
  name: `lambda-runner-at-${Math.floor(ms / 1000)}`,
  type: 'custom',
});
const runner = (id: number, name: string, status: string, busy: boolean, registered: number) => ({
  id,
  name,
  os: 'linux',
  status,
  busy,
  labels: [{ id: 1, name: 'lambda-runner', type: 'custom' }, at(registered)],
});

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
beforeEach(() => nock.cleanAll());

/** The broker with the App's settings and `env`, its log captured. */
function scheduledBroker(env: Record<string, string> = {}) {
  const captured = captureLog();
  const handler = createBrokerHandler({
    env: { APP_ID: '4242', PRIVATE_KEY: appKeys.privateKey, WEBHOOK_SECRET: 'w', ...env },
    clients: {
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      lambda: new LambdaClient({ region: 'us-east-1' }),
    },
    log: captured.log,
    retryAfterBaseValue: 1,
  });
  return { handler, ...captured };
}

/** The broker, driven by the EventBridge event its schedule sends. */
function janitor(env: Record<string, string> = {}) {
  const { handler: broker, ...captured } = scheduledBroker(env);
  // The schedule also walks the App's delivery log: an empty one here.
  const handler = async () => {
    nock(API).get('/app/hook/deliveries').query(true).reply(200, []);
    const report = (await broker({
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      detail: {},
    })) as {
      orphans: { calls: number; examined: number; deleted: string[]; truncated: boolean };
    };
    return report.orphans;
  };
  return { handler, ...captured };
}

describe("the broker's schedule: orphan registrations", () => {
  it('deletes only stale offline runners of ours, listing installations with the App JWT', async () => {
    const now = Date.now();
    let appAuth = '';
    nock(API)
      .get('/app/installations')
      .query(true)
      .reply(function () {
        appAuth = String(this.req.headers.authorization);
        return [200, [{ id: 77, account: { login: 'acme' } }]];
      })
      .post('/app/installations/77/access_tokens')
      .reply(201, { token: 'ghs_janitor', expires_at: new Date(now + hour).toISOString() })
      .get('/installation/repositories')
      .query(true)
      .reply(200, { total_count: 1, repositories: [{ full_name: 'acme/app' }] })
      .get('/repos/acme/app/actions/runners')
      .query(true)
      .reply(200, {
        total_count: 5,
        runners: [
          runner(1, 'lambda-11-1', 'offline', false, now - hour),
          runner(2, 'lambda-12-1', 'online', true, now - hour),
          runner(3, 'lambda-13-1', 'offline', false, now - 60_000),
          runner(4, 'build-box', 'offline', false, now - hour),
          { id: 5, name: 'lambda-15-1', os: 'linux', status: 'offline', busy: false, labels: [] },
        ],
      });
    const deleted = nock(API).delete('/repos/acme/app/actions/runners/1').reply(204);
    const { handler, records } = janitor();

    const report = await handler();

    expect(report).toEqual({ calls: 5, truncated: false, examined: 5, deleted: ['lambda-11-1'] });
    expect(deleted.isDone()).toBe(true);
    expect(nock.isDone()).toBe(true);
    expect(String(verifyAppJwt(appAuth).payload.iss)).toBe('4242');
    expect(records()).toContainEqual(
      expect.objectContaining({
        runnerName: 'lambda-11-1',
        msg: 'janitor deleted a stale runner registration',
      }),
    );
  });

  it('lists org runners with RUNNER_SCOPE=org', async () => {
    nock(API)
      .get('/app/installations')
      .query(true)
      .reply(200, [{ id: 78, account: { login: 'big-org' } }])
      .post('/app/installations/78/access_tokens')
      .reply(201, { token: 'ghs_org', expires_at: new Date(Date.now() + hour).toISOString() })
      .get('/orgs/big-org/actions/runners')
      .query(true)
      .reply(200, {
        total_count: 1,
        runners: [runner(7, 'lambda-70-2', 'offline', false, Date.now() - hour)],
      })
      .delete('/orgs/big-org/actions/runners/7')
      .reply(204);
    const report = await janitor({ RUNNER_SCOPE: 'org' }).handler();
    expect(report).toMatchObject({ deleted: ['lambda-70-2'], calls: 4 });
    expect(nock.isDone()).toBe(true);
  });

  it('never goes past its call budget', async () => {
    nock(API)
      .get('/app/installations')
      .query(true)
      .reply(200, [{ id: 79, account: { login: 'acme' } }])
      .post('/app/installations/79/access_tokens')
      .reply(201, { token: 'ghs_b', expires_at: new Date(Date.now() + hour).toISOString() });
    const report = await janitor({ JANITOR_MAX_CALLS: '2' }).handler();
    expect(report).toMatchObject({ truncated: true, deleted: [] });
    expect(report.calls).toBeLessThanOrEqual(2);
  });
});

describe('schedule events only from the schedule', () => {
  const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
  const broker = () => scheduledBroker({ SCHEDULE_ALIAS: 'schedule' });
  const arn = 'arn:aws:lambda:us-east-1:123456789012:function:lambda-runner-prod-broker';

  it.each([
    ['the unqualified function (what a job can invoke)', arn],
    ['another qualifier', `${arn}:7`],
    ['no context at all', undefined],
  ])('a schedule event through %s is refused: no GitHub call', async (_name, invoked) => {
    const { handler, lines } = broker();
    // A forged schedule event, as often as a job likes: each would spend the App's rate limit.
    for (let i = 0; i < 5; i += 1)
      await expect(
        handler(scheduled, invoked ? { invokedFunctionArn: invoked } : undefined),
      ).resolves.toEqual({ result: 'refused' });
    expect(lines.join('\n')).toContain(
      "schedule event refused: it did not come through the schedule's alias",
    );
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("runs for an event through the schedule's alias", async () => {
    const { handler } = broker();
    nock(API)
      .get('/app/installations')
      .query(true)
      .reply(200, [])
      .get('/app/hook/deliveries')
      .query(true)
      .reply(200, []);
    const report = (await handler(scheduled, { invokedFunctionArn: `${arn}:schedule` })) as {
      orphans: { examined: number };
    };
    expect(report.orphans.examined).toBe(0);
    expect(nock.isDone()).toBe(true);
  });
});
