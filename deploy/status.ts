import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
  type CloudWatchClient,
} from '@aws-sdk/client-cloudwatch';
import {
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  type CodeBuildClient,
} from '@aws-sdk/client-codebuild';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Octokit } from '@octokit/core';
import { REGISTERED_LABEL, RUNNER_NAME } from '../src/broker/janitor';
import * as release from './runner-release';

/** One line of the status screen; `action` says what to do when something needs it. */
export interface StatusLine {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly action?: string;
}

export interface StatusDeps {
  readonly stage: string;
  /** Where the stage was deployed: from its stage file or --region, never guessed. */
  readonly region: string;
  /** The App's own client (its JWT), and a client for an installation. */
  readonly app: Pick<Octokit, 'request'>;
  readonly installation: (id: number) => Pick<Octokit, 'request'>;
  /** Unauthenticated: public data such as the runner's latest release. */
  readonly publicGitHub: Pick<Octokit, 'request'>;
  readonly cloudFormation: Pick<CloudFormationClient, 'send'>;
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly cloudWatch: Pick<CloudWatchClient, 'send'>;
  /** The stage's runner functions, for how long their events waited on capacity. */
  readonly runnerFunctions?: readonly string[];
  /** The stage's CodeBuild projects (codebuild profiles), for their builds by state. */
  readonly buildProjects?: readonly string[];
  readonly codebuild?: Pick<CodeBuildClient, 'send'>;
  /** The runner release baked into the stage's image. */
  readonly runnerVersion: string;
  readonly now?: () => number;
}

const HOUR = 3600_000;

/**
 * Is it working? One line per check: the App's webhook URL against the stack's, the last
 * hour's deliveries by result, our runners by state, the dead-letter queue, alarms in ALARM, and
 * the runner version against GitHub's latest release. A check that cannot run says why.
 */
export async function stackStatus(deps: StatusDeps): Promise<StatusLine[]> {
  const outputs = await stackOutputs(deps);
  const checks: [string, () => Promise<StatusLine>][] = [
    ['webhook', () => webhookCheck(deps, outputs)],
    ['deliveries', () => deliveriesCheck(deps)],
    ['runners', () => runnersCheck(deps)],
    ['dead letters', () => deadLetterCheck(deps, outputs)],
    ...(outputs.DispatchQueueUrl
      ? [['queues', () => queuesCheck(deps, outputs)] as [string, () => Promise<StatusLine>]]
      : []),
    ['alarms', () => alarmsCheck(deps)],
    ['capacity', () => capacityCheck(deps)],
    ...(deps.buildProjects?.length && deps.codebuild
      ? [['builds', () => buildsCheck(deps)] as [string, () => Promise<StatusLine>]]
      : []),
    ['runner version', () => versionCheck(deps)],
  ];
  const lines: StatusLine[] = [];
  for (const [check, run] of checks) {
    lines.push(
      await run().catch((error: Error) => ({
        check,
        ok: false,
        detail: `could not check: ${error.message}`,
        action: 'check the AWS credentials, the region and the App settings',
      })),
    );
  }
  return lines;
}

async function stackOutputs(deps: StatusDeps): Promise<Record<string, string>> {
  const { Stacks: stacks } = await deps.cloudFormation.send(
    new DescribeStacksCommand({ StackName: `lambda-runner-${deps.stage}` }),
  );
  return Object.fromEntries(
    (stacks?.[0]?.Outputs ?? []).map((output) => [
      output.OutputKey ?? '',
      output.OutputValue ?? '',
    ]),
  );
}

async function webhookCheck(
  deps: StatusDeps,
  outputs: Record<string, string>,
): Promise<StatusLine> {
  const { data } = await deps.app.request('GET /app/hook/config');
  const url = (data as { url?: string }).url;
  const ok = url === outputs.WebhookUrl;
  return {
    check: 'webhook',
    ok,
    detail: ok
      ? `the App delivers to ${url}`
      : `the App delivers to ${url ?? 'nowhere'}, the stack listens at ${outputs.WebhookUrl}`,
    ...(ok ? {} : { action: `npm run deploy:webhook-url -- --stage ${deps.stage}` }),
  };
}

interface Delivery {
  readonly guid: string;
  readonly event: string;
  readonly status_code: number;
  readonly delivered_at: string;
}

async function deliveriesCheck(deps: StatusDeps): Promise<StatusLine> {
  const since = (deps.now ?? Date.now)() - HOUR;
  const { data } = await deps.app.request('GET /app/hook/deliveries', { per_page: 100 });
  const recent = (data as Delivery[]).filter(
    (item) => item.event === 'workflow_job' && Date.parse(item.delivered_at) >= since,
  );
  const settled = new Set(
    recent
      .filter((item) => item.status_code < 300 && item.status_code >= 200)
      .map((item) => item.guid),
  );
  const failed = new Set(recent.filter((item) => !settled.has(item.guid)).map((item) => item.guid));
  return {
    check: 'deliveries',
    ok: failed.size === 0,
    detail: `last hour: ${settled.size} workflow_job deliveries answered, ${failed.size} failed`,
    ...(failed.size === 0
      ? {}
      : {
          action:
            "the broker's schedule redelivers them; if they keep failing, read the webhook's log",
        }),
  };
}

interface Runner {
  readonly name: string;
  readonly status: string;
  readonly busy: boolean;
  readonly labels: { readonly name: string }[];
}

async function runnersCheck(deps: StatusDeps): Promise<StatusLine> {
  const counts = { online: 0, busy: 0, offline: 0, stale: 0 };
  const { data: installations } = await deps.app.request('GET /app/installations', {
    per_page: 100,
  });
  for (const installation of installations) {
    const client = deps.installation(installation.id);
    const { data } = await client.request('GET /installation/repositories', { per_page: 100 });
    for (const repository of data.repositories.slice(0, 30)) {
      const listed = await client.request('GET /repos/{owner}/{repo}/actions/runners', {
        owner: repository.owner.login,
        repo: repository.name,
        per_page: 100,
      });
      for (const runner of (listed.data.runners as Runner[]).filter((r) =>
        RUNNER_NAME.test(r.name),
      ))
        count(runner, counts, (deps.now ?? Date.now)());
    }
  }
  const detail = `${counts.online} online, ${counts.busy} busy, ${counts.offline} offline, ${counts.stale} stale (over 20 minutes, offline)`;
  return {
    check: 'runners',
    ok: counts.stale === 0,
    detail,
    ...(counts.stale === 0
      ? {}
      : { action: "the broker's schedule removes stale runners; if they stay, read its log" }),
  };
}

function count(
  runner: Runner,
  counts: Record<'online' | 'busy' | 'offline' | 'stale', number>,
  now: number,
) {
  if (runner.busy) counts.busy += 1;
  else if (runner.status === 'online') counts.online += 1;
  else counts.offline += 1;
  const at = runner.labels.map((label) => REGISTERED_LABEL.exec(label.name)?.[1]).find(Boolean);
  if (!runner.busy && runner.status !== 'online' && at && now - Number(at) * 1000 > 20 * 60_000)
    counts.stale += 1;
}

/**
 * The broker's two queues: jobs waiting for a broker, runners' ends waiting to be settled, and
 * how long the oldest has waited (the last five minutes' maximum). Over ten minutes, the brokers
 * are behind or GitHub keeps them waiting.
 */
async function queuesCheck(deps: StatusDeps, outputs: Record<string, string>): Promise<StatusLine> {
  const parts: string[] = [];
  let oldest = 0;
  for (const [queue, url] of [
    ['dispatch', outputs.DispatchQueueUrl],
    ['settle', outputs.SettleQueueUrl],
  ] as const) {
    const { Attributes: attributes = {} } = await deps.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const age = await oldestMessageAge(deps, `lambda-runner-${deps.stage}-${queue}`);
    oldest = Math.max(oldest, age);
    parts.push(
      `${queue} ${attributes.ApproximateNumberOfMessages ?? '?'} waiting, ${attributes.ApproximateNumberOfMessagesNotVisible ?? '?'} taken or held, oldest ${age} s`,
    );
  }
  const ok = oldest <= 600;
  return {
    check: 'queues',
    ok,
    detail: parts.join('; '),
    ...(ok
      ? {}
      : {
          action:
            "read the broker's log for GitHub rate-limit waits; raise brokerReservedConcurrency if it is only behind",
        }),
  };
}

async function oldestMessageAge(deps: StatusDeps, queueName: string): Promise<number> {
  const end = new Date((deps.now ?? Date.now)());
  const { Datapoints: points = [] } = await deps.cloudWatch.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: queueName }],
      StartTime: new Date(end.getTime() - 300_000),
      EndTime: end,
      Period: 300,
      Statistics: ['Maximum'],
    }),
  );
  return Math.max(0, ...points.map((point) => point.Maximum ?? 0));
}

async function deadLetterCheck(
  deps: StatusDeps,
  outputs: Record<string, string>,
): Promise<StatusLine> {
  const { Attributes: attributes } = await deps.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: outputs.BrokerDeadLetterQueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  const depth = Number(attributes?.ApproximateNumberOfMessages ?? 0);
  return {
    check: 'dead letters',
    ok: depth === 0,
    detail: `${depth} in the broker's dead-letter queue`,
    ...(depth === 0
      ? {}
      : {
          action:
            "the broker's schedule replays them while their jobs wait; read its log for why they failed",
        }),
  };
}

async function alarmsCheck(deps: StatusDeps): Promise<StatusLine> {
  const { MetricAlarms: alarms = [] } = await deps.cloudWatch.send(
    new DescribeAlarmsCommand({
      StateValue: 'ALARM',
      AlarmNamePrefix: `lambda-runner-${deps.stage}-`,
    }),
  );
  const names = alarms.map((alarm) => alarm.AlarmName ?? '?');
  return {
    check: 'alarms',
    ok: names.length === 0,
    detail: names.length === 0 ? 'none in ALARM' : `in ALARM: ${names.join(', ')}`,
    ...(names.length === 0
      ? {}
      : { action: 'see each alarm in the CloudWatch console, and the dashboard' }),
  };
}

/**
 * How long runner events waited on capacity (Lambda's AsyncEventAge, the last hour's maximum):
 * the time a job waited for a runner because reserved concurrency was full.
 */
async function capacityCheck(deps: StatusDeps): Promise<StatusLine> {
  const end = new Date((deps.now ?? Date.now)());
  let worst = 0;
  for (const name of deps.runnerFunctions ?? [`lambda-runner-${deps.stage}-runner-default`]) {
    const { Datapoints: points = [] } = await deps.cloudWatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/Lambda',
        MetricName: 'AsyncEventAge',
        Dimensions: [{ Name: 'FunctionName', Value: name }],
        StartTime: new Date(end.getTime() - HOUR),
        EndTime: end,
        Period: 3600,
        Statistics: ['Maximum'],
      }),
    );
    worst = Math.max(worst, ...points.map((point) => point.Maximum ?? 0));
  }
  const ok = worst < 300_000;
  return {
    check: 'capacity',
    ok,
    detail: `jobs waited on capacity up to ${Math.round(worst / 1000)} s in the last hour (AsyncEventAge)`,
    ...(ok
      ? {}
      : {
          action:
            'raise reservedConcurrency (and the account quota), or expect queued jobs to wait',
        }),
  };
}

/** Build states that mean a build's runner could not serve its job. */
const BUILD_FAILURES = ['FAILED', 'FAULT', 'TIMED_OUT'];

/**
 * Each CodeBuild project's builds of the last hour by state (its newest hundred): running ones,
 * and ones that ended; a failed, faulted or timed-out build needs a look at its log.
 */
async function buildsCheck(deps: StatusDeps): Promise<StatusLine> {
  const since = (deps.now ?? Date.now)() - HOUR;
  const parts: string[] = [];
  let failures = 0;
  for (const project of deps.buildProjects ?? []) {
    const counts = await buildCounts(deps.codebuild!, project, since);
    failures += BUILD_FAILURES.reduce((sum, state) => sum + (counts.get(state) ?? 0), 0);
    const text = [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
    parts.push(`${project}: ${text || 'none'}`);
  }
  return {
    check: 'builds',
    ok: failures === 0,
    detail: `last hour: ${parts.join('; ')}`,
    ...(failures === 0
      ? {}
      : {
          action:
            "read the failed builds' logs (/aws/codebuild/<project>): the broker dispatched their jobs again while they waited",
        }),
  };
}

async function buildCounts(
  codebuild: Pick<CodeBuildClient, 'send'>,
  projectName: string,
  since: number,
): Promise<Map<string, number>> {
  const { ids = [] } = await codebuild.send(
    new ListBuildsForProjectCommand({ projectName, sortOrder: 'DESCENDING' }),
  );
  if (ids.length === 0) return new Map();
  const { builds = [] } = await codebuild.send(
    new BatchGetBuildsCommand({ ids: ids.slice(0, 100) }),
  );
  return countStates(builds.filter((build) => (build.startTime?.getTime() ?? 0) >= since));
}

function countStates(builds: { buildStatus?: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { buildStatus: state = 'UNKNOWN' } of builds)
    counts.set(state, (counts.get(state) ?? 0) + 1);
  return counts;
}

async function versionCheck(deps: StatusDeps): Promise<StatusLine> {
  const releases = await release.fetchReleases(deps.publicGitHub.request as release.Request);
  const latest = releases[0]?.version;
  if (!latest || latest === deps.runnerVersion)
    return {
      check: 'runner version',
      ok: true,
      detail: `${deps.runnerVersion}, the latest release`,
    };
  const behind = release.daysBehind(deps.runnerVersion, releases, (deps.now ?? Date.now)());
  const ok = behind < release.ALARM_DAYS_BEHIND;
  return {
    check: 'runner version',
    ok,
    detail: `${deps.runnerVersion} in the image, ${behind} days behind the first newer release (latest ${latest}); GitHub stops sending jobs at ${release.MAX_DAYS_BEHIND}`,
    ...(ok
      ? {}
      : {
          action: `npx lambda-runner runner-update --stage ${deps.stage}, then deploy (docs/DEPLOYMENT.md, "Keeping the runner current")`,
        }),
  };
}

/**
 * The one answer when there is no stack to look at: not deployed in that region, or no AWS
 * credentials to ask with. Anything else is not ours to explain, and goes on.
 */
function noStack(error: unknown, deps: StatusDeps): StatusLine | undefined {
  const { name = '', message = '' } = error as { name?: string; message?: string };
  if (name === 'ValidationError' && /does not exist/.test(message))
    return {
      check: 'stack',
      ok: false,
      detail: `stage ${deps.stage} is not deployed in ${deps.region} (no stack lambda-runner-${deps.stage})`,
      action: `deploy it (docs/DEPLOYMENT.md), or name the region it is in: lambda-runner status --stage ${deps.stage} --region <region>`,
    };
  if (name === 'CredentialsProviderError' || /credentials/i.test(message))
    return {
      check: 'stack',
      ok: false,
      detail: `no AWS credentials to read stage ${deps.stage} with (${message})`,
      action:
        'give the shell credentials for the account: AWS_PROFILE=<profile> (aws configure, aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    };
  return undefined;
}

/** Prints the status screen; the exit code is 1 when any line needs action, else 0. */
export async function runStatus(deps: StatusDeps, print: (line: string) => void): Promise<number> {
  let lines: StatusLine[];
  try {
    lines = await stackStatus(deps);
  } catch (error) {
    const line = noStack(error, deps);
    if (!line) throw error;
    lines = [line];
  }
  print(`lambda-runner ${deps.stage}:`);
  for (const line of lines) {
    print(`${line.ok ? '✔' : '✘'} ${line.check}: ${line.detail}`);
    if (line.action) print(`    what to do: ${line.action}`);
  }
  return lines.every((line) => line.ok) ? 0 : 1;
}
