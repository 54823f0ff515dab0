import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  ListBuildsForProjectCommand,
  type StatusType,
} from '@aws-sdk/client-codebuild';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Octokit } from '@octokit/core';
import { mockClient } from 'aws-sdk-client-mock';
import { runStatus } from '../../deploy/status';
import { main } from '../../src/cli';

const API = 'https://api.github.com';
const HOOK = 'https://abc.execute-api.eu-west-1.amazonaws.com/api/github/webhooks';
const DLQ = 'https://sqs.eu-west-1.amazonaws.com/1/lambda-runner-prod-broker-dlq';
const cfnMock = mockClient(CloudFormationClient);
const sqsMock = mockClient(SQSClient);
const cwMock = mockClient(CloudWatchClient);
const now = Date.now();
const day = 24 * 3600_000;

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());

interface World {
  hookUrl?: string;
  deliveries?: { guid: string; status_code: number }[];
  runners?: { name: string; status: string; busy: boolean; registeredAgoMs: number }[];
  deadLetters?: number;
  alarms?: string[];
  latest?: { version: string; daysAgo: number };
  eventAgeMs?: number;
}

/** The stack's outputs: the webhook URL and the dead-letter queue, and `more`. */
function stackOutputs(more: Record<string, string>) {
  cfnMock.on(DescribeStacksCommand, { StackName: 'lambda-runner-prod' }).resolves({
    Stacks: [
      {
        StackName: 'lambda-runner-prod',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: Object.entries({
          WebhookUrl: HOOK,
          BrokerDeadLetterQueueUrl: DLQ,
          ...more,
        }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

/** AWS as the scenario has it: the stack's outputs, the queue, alarms, event age. */
function aws(w: World) {
  cfnMock.reset();
  sqsMock.reset();
  cwMock.reset();
  stackOutputs({});
  sqsMock
    .on(GetQueueAttributesCommand, { QueueUrl: DLQ })
    .resolves({ Attributes: { ApproximateNumberOfMessages: String(w.deadLetters ?? 0) } });
  cwMock
    .on(DescribeAlarmsCommand, { StateValue: 'ALARM', AlarmNamePrefix: 'lambda-runner-prod-' })
    .resolves({ MetricAlarms: (w.alarms ?? []).map((AlarmName) => ({ AlarmName })) });
  cwMock
    .on(GetMetricStatisticsCommand, { MetricName: 'AsyncEventAge' })
    .resolves({ Datapoints: [{ Maximum: w.eventAgeMs ?? 1200 }] });
}

/** GitHub and AWS as the scenario has them. */
function world(w: World = {}) {
  nock.cleanAll();
  aws(w);
  const latest = w.latest ?? { version: '2.326.0', daysAgo: 3 };
  nock(API)
    .get('/app/hook/config')
    .reply(200, { url: w.hookUrl ?? HOOK, content_type: 'json' })
    .get('/app/hook/deliveries')
    .query(true)
    .reply(
      200,
      (w.deliveries ?? [{ guid: 'a', status_code: 202 }]).map((d, i) => ({
        id: i + 1,
        ...d,
        event: 'workflow_job',
        delivered_at: new Date(now - 60_000).toISOString(),
        redelivery: false,
      })),
    )
    .get('/app/installations')
    .query(true)
    .reply(200, [{ id: 77 }])
    .get('/installation/repositories')
    .query(true)
    .reply(200, { total_count: 1, repositories: [{ name: 'app', owner: { login: 'acme' } }] })
    .get('/repos/acme/app/actions/runners')
    .query(true)
    .reply(200, {
      total_count: 1,
      runners: (
        w.runners ?? [
          { name: 'lambda-1-1-1', status: 'online', busy: true, registeredAgoMs: 60_000 },
        ]
      ).map((r, i) => ({
        id: i + 1,
        name: r.name,
        status: r.status,
        busy: r.busy,
        labels: [{ name: `lambda-runner-at-${Math.floor((now - r.registeredAgoMs) / 1000)}` }],
      })),
    })
    .get('/repos/actions/runner/releases')
    .query({ per_page: 30 })
    .reply(200, [
      {
        tag_name: `v${latest.version}`,
        draft: false,
        prerelease: false,
        published_at: new Date(now - latest.daysAgo * day).toISOString(),
        assets: [],
      },
    ]);
}

async function status(extra: Partial<Parameters<typeof runStatus>[0]> = {}) {
  const lines: string[] = [];
  const octokit = new Octokit({ auth: 'x' });
  const code = await runStatus(
    {
      stage: 'prod',
      region: 'eu-west-1',
      app: octokit,
      installation: () => octokit,
      publicGitHub: new Octokit(),
      cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
      sqs: new SQSClient({ region: 'eu-west-1' }),
      cloudWatch: new CloudWatchClient({ region: 'eu-west-1' }),
      runnerVersion: '2.326.0',
      now: () => now,
      ...extra,
    },
    (line) => lines.push(line),
  );
  return { code, text: lines.join('\n') };
}

describe('lambda-runner status', () => {
  it('healthy: every line is a tick, exit 0', async () => {
    world();
    const { code, text } = await status();
    expect(text).toContain(`✔ webhook: the App delivers to ${HOOK}`);
    expect(text).toContain('✔ deliveries: last hour: 1 workflow_job deliveries answered, 0 failed');
    expect(text).toContain('✔ runners: 0 online, 1 busy, 0 offline, 0 stale');
    expect(text).toContain("✔ dead letters: 0 in the broker's dead-letter queue");
    expect(text).toContain('✔ alarms: none in ALARM');
    expect(text).toContain(
      '✔ capacity: jobs waited on capacity up to 1 s in the last hour (AsyncEventAge)',
    );
    expect(text).toContain('✔ runner version: 2.326.0, the latest release');
    expect(text).not.toContain('what to do');
    expect(code).toBe(0);
  });

  it.each<[string, World, RegExp]>([
    [
      'a wrong webhook URL',
      { hookUrl: 'https://old.example/hook' },
      /✘ webhook: the App delivers to https:\/\/old\.example\/hook, the stack listens at .*\n {4}what to do: npm run deploy:webhook-url -- --stage prod/,
    ],
    [
      'failing deliveries',
      {
        deliveries: [
          { guid: 'a', status_code: 503 },
          { guid: 'a', status_code: 503 },
          { guid: 'b', status_code: 202 },
        ],
      },
      /✘ deliveries: last hour: 1 workflow_job deliveries answered, 1 failed\n {4}what to do: the broker's schedule redelivers them/,
    ],
    [
      'stale runners',
      {
        runners: [
          { name: 'lambda-9-1-1', status: 'offline', busy: false, registeredAgoMs: 3600_000 },
        ],
      },
      /✘ runners: 0 online, 0 busy, 1 offline, 1 stale/,
    ],
    [
      'messages in the dead-letter queue',
      { deadLetters: 4 },
      /✘ dead letters: 4 in the broker's dead-letter queue\n {4}what to do: /,
    ],
    [
      'an alarm in ALARM',
      { alarms: ['lambda-runner-prod-BrokerErrorsAlarm-X1'] },
      /✘ alarms: in ALARM: lambda-runner-prod-BrokerErrorsAlarm-X1/,
    ],
    [
      'runner events waiting on throttling',
      { eventAgeMs: 900_000 },
      /✘ capacity: jobs waited on capacity up to 900 s in the last hour \(AsyncEventAge\)\n {4}what to do: raise reservedConcurrency/,
    ],
    [
      'a runner version 20 days behind',
      { latest: { version: '2.330.0', daysAgo: 20 } },
      /✘ runner version: 2\.326\.0 in the image, 20 days behind the first newer release \(latest 2\.330\.0\); GitHub stops sending jobs at 30\n {4}what to do: npx lambda-runner runner-update --stage prod, then deploy/,
    ],
  ])('%s: its line says what to do, exit 1', async (_name, scenario, expected) => {
    world(scenario);
    const { code, text } = await status();
    expect(text).toMatch(expected);
    expect(code).toBe(1);
  });

  it('a newer release not yet 20 days old is no problem yet', async () => {
    world({ latest: { version: '2.330.0', daysAgo: 10 } });
    const { code, text } = await status();
    expect(text).toContain(
      '✔ runner version: 2.326.0 in the image, 10 days behind the first newer release (latest 2.330.0)',
    );
    expect(code).toBe(0);
  });
});

describe("lambda-runner status: the broker's queues", () => {
  const DISPATCH = 'https://sqs.eu-west-1.amazonaws.com/1/lambda-runner-prod-dispatch';
  const SETTLE = 'https://sqs.eu-west-1.amazonaws.com/1/lambda-runner-prod-settle';
  function queues(oldestDispatchSeconds: number) {
    world();
    stackOutputs({ DispatchQueueUrl: DISPATCH, SettleQueueUrl: SETTLE });
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: DISPATCH }).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '40',
        ApproximateNumberOfMessagesNotVisible: '10',
      },
    });
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: SETTLE }).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '2' },
    });
    cwMock
      .on(GetMetricStatisticsCommand, {
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'lambda-runner-prod-dispatch' }],
      })
      .resolves({ Datapoints: [{ Maximum: oldestDispatchSeconds }] })
      .on(GetMetricStatisticsCommand, {
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'lambda-runner-prod-settle' }],
      })
      .resolves({ Datapoints: [{ Maximum: 3 }] });
  }

  it('shows jobs waiting for a broker and runner ends waiting to be settled', async () => {
    queues(45);
    const { code, text } = await status();
    expect(text).toContain(
      '✔ queues: dispatch 40 waiting, 10 taken or held, oldest 45 s; settle 0 waiting, 2 taken or held, oldest 3 s',
    );
    expect(code).toBe(0);
  });

  it('a job waiting over ten minutes: its line says where to look, exit 1', async () => {
    queues(1800);
    const { code, text } = await status();
    expect(text).toMatch(
      /✘ queues: dispatch 40 waiting.*oldest 1800 s.*\n {4}what to do: read the broker's log for GitHub rate-limit waits/,
    );
    expect(code).toBe(1);
  });
});

describe('lambda-runner status with CodeBuild profiles', () => {
  const codebuildMock = mockClient(CodeBuildClient);
  const project = 'lambda-runner-prod-build-docker';
  const build = (id: string, buildStatus: StatusType, minutesAgo: number) => ({
    id: `${project}:${id}`,
    buildStatus,
    startTime: new Date(now - minutesAgo * 60_000),
  });
  function builds(list: ReturnType<typeof build>[]) {
    codebuildMock.reset();
    codebuildMock
      .on(ListBuildsForProjectCommand, { projectName: project })
      .resolves({ ids: list.map((b) => b.id) });
    codebuildMock.on(BatchGetBuildsCommand).resolves({ builds: list });
  }
  const withBuilds = () =>
    status({ buildProjects: [project], codebuild: new CodeBuildClient({ region: 'eu-west-1' }) });

  it("shows the last hour's builds by state", async () => {
    world();
    builds([
      build('a', 'SUCCEEDED', 5),
      build('b', 'SUCCEEDED', 20),
      build('c', 'IN_PROGRESS', 1),
      build('old', 'FAILED', 90),
    ]);
    const { code, text } = await withBuilds();
    expect(text).toContain(`✔ builds: last hour: ${project}: 2 SUCCEEDED, 1 IN_PROGRESS`);
    expect(code).toBe(0);
  });

  it('a failed or timed-out build: its line says where to look, exit 1', async () => {
    world();
    builds([build('a', 'TIMED_OUT', 5), build('b', 'SUCCEEDED', 6)]);
    const { code, text } = await withBuilds();
    expect(text).toMatch(
      /✘ builds: last hour: lambda-runner-prod-build-docker: 1 TIMED_OUT, 1 SUCCEEDED\n {4}what to do: read the failed builds' logs/,
    );
    expect(code).toBe(1);
  });
});

describe('lambda-runner status with no stack to read', () => {
  it('a stage not deployed in its region: says so, and how to name another region', async () => {
    world();
    cfnMock.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id lambda-runner-prod does not exist'), {
        name: 'ValidationError',
      }),
    );
    const { code, text } = await status();
    expect(text).toBe(
      [
        'lambda-runner prod:',
        '✘ stack: stage prod is not deployed in eu-west-1 (no stack lambda-runner-prod)',
        '    what to do: deploy it (docs/DEPLOYMENT.md), or name the region it is in: lambda-runner status --stage prod --region <region>',
      ].join('\n'),
    );
    expect(code).toBe(1);
  });

  it('no AWS credentials: says how to provide them', async () => {
    world();
    cfnMock.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );
    const { code, text } = await status();
    expect(text).toMatch(/✘ stack: no AWS credentials to read stage prod with/);
    expect(text).toMatch(/what to do: give the shell credentials for the account: AWS_PROFILE=/);
    expect(code).toBe(1);
  });

  it('a stage with no stage file and no --region: never guesses a region', async () => {
    cfnMock.reset();
    const lines: string[] = [];
    const stagesDir = mkdtempSync(path.join(tmpdir(), 'lambda-runner-nostage-'));
    const code = await Promise.resolve(
      main(['status', '--stage', 'ghost'], (line) => lines.push(line), {
        LAMBDA_RUNNER_STAGES_DIR: stagesDir,
        AWS_REGION: 'us-east-1',
      }),
    ).finally(() => rmSync(stagesDir, { recursive: true, force: true }));
    expect(code).toBe(1);
    expect(lines.join('\n')).toMatch(
      /✘ stack: stage ghost has no deploy\/stages\/ghost\.json here, so its region is unknown\n {4}what to do: .*--region <region>/,
    );
    expect(cfnMock.calls()).toHaveLength(0);
  });
});
