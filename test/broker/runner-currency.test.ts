import nock from 'nock';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createBrokerHandler } from '../../src/broker/handler';
import { captureLog } from '../support/capture-log';
import { captureEmf, metricNames } from '../support/emf';
import { appKeys } from '../support/github-app';

const API = 'https://api.github.com';
const DAY = 86_400_000;

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
afterEach(() => nock.cleanAll());

/** The broker as deployed with runner 2.335.0 and two profiles, driven by its schedule. */
function broker(env: Record<string, string> = {}) {
  const captured = captureLog();
  const handler = createBrokerHandler({
    env: {
      APP_ID: '4242',
      PRIVATE_KEY: appKeys.privateKey,
      WEBHOOK_SECRET: 'w',
      RUNNER_VERSION: '2.335.0',
      RUNNER_PROFILES: JSON.stringify([
        { name: 'default', labels: ['lambda-runner'], functionName: 'runner' },
        { name: 'arm', labels: ['lambda-runner', 'arm64'], functionName: 'runner-arm' },
      ]),
      ...env,
    },
    clients: {
      secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
      lambda: new LambdaClient({ region: 'us-east-1' }),
    },
    log: captured.log,
  });
  return { handler, ...captured };
}

/** The schedule's own tasks, with nothing to do: no installations, an empty delivery log. */
function quietSchedule() {
  nock(API).get('/app/installations').query(true).reply(200, []);
  nock(API).get('/app/hook/deliveries').query(true).reply(200, []);
}

function releases(list: [string, number][]) {
  return nock(API)
    .get('/repos/actions/runner/releases')
    .query({ per_page: 30 })
    .reply(
      200,
      list.map(([version, daysAgo]) => ({
        tag_name: `v${version}`,
        draft: false,
        prerelease: false,
        published_at: new Date(Date.now() - daysAgo * DAY).toISOString(),
        assets: [],
      })),
    );
}

const scheduled = (time: string) => ({
  source: 'aws.events',
  'detail-type': 'Scheduled Event',
  time,
  detail: {},
});

describe("the broker's daily runner release check", () => {
  it('the first run of the UTC day publishes RunnerDaysBehind for each profile, from the first newer release', async () => {
    quietSchedule();
    const github = releases([
      ['2.337.0', 3],
      ['2.336.0', 22],
      ['2.335.0', 60],
    ]);
    const { handler, records } = broker();
    const emf = captureEmf();
    let report: Record<string, unknown>;
    try {
      report = (await handler(scheduled('2026-12-02T00:07:12Z'))) as Record<string, unknown>;
    } finally {
      emf.restore();
    }
    expect(github.isDone()).toBe(true);
    expect(report.runnerRelease).toEqual({
      runnerVersion: '2.335.0',
      latest: '2.337.0',
      daysBehind: 22,
    });
    const behind = emf.lines.filter((line) => metricNames(line).includes('RunnerDaysBehind'));
    expect(behind.map((line) => [line.service, line.profile, line.RunnerDaysBehind])).toEqual([
      ['broker', 'default', 22],
      ['broker', 'arm', 22],
    ]);
    expect(records()).toContainEqual(
      expect.objectContaining({ msg: 'runner release behind', daysBehind: 22 }),
    );
  });

  it('the other runs of the day ask GitHub nothing about releases', async () => {
    quietSchedule();
    const github = releases([['2.336.0', 1]]);
    const report = (await broker().handler(scheduled('2026-12-02T00:22:12Z'))) as Record<
      string,
      unknown
    >;
    expect(report).not.toHaveProperty('runnerRelease');
    expect(github.isDone()).toBe(false);
  });

  it('GitHub unreachable: the check fails the run (its alarm) and the other tasks still ran', async () => {
    quietSchedule();
    nock(API).get('/repos/actions/runner/releases').query(true).reply(500, 'down');
    const { handler, records } = broker();
    await expect(handler(scheduled('2026-12-03T00:01:00Z'))).rejects.toThrow(
      /scheduled tasks failed: runnerRelease/,
    );
    expect(records()).toContainEqual(
      expect.objectContaining({ msg: 'schedule finished', failures: ['runnerRelease'] }),
    );
  });
});
