// @ts-check
'use strict';
// Generates serverless.yml's functions and resources from one runner-profile list, so the
// webhook's RUNNER_PROFILES names exactly the runner functions this stack creates.
const { execFileSync } = require('node:child_process');
const {
  loadDeployProfiles,
  functionKey,
  functionLogicalId,
  runnerFunctionName,
} = require('./profiles');
const { alarms, dashboard } = require('./monitoring');
const { roles } = require('./roles');
const { secrets } = require('./secrets');

/** @typedef {(name: string) => Promise<any>} Resolve */

/** `serverless offline` runs the built handlers in-process: no image, no CloudFormation refs. */
const isOffline = () => process.argv.slice(2).includes('offline');

/**
 * Offline, handlers see only their function's environment; the shell's variables (secrets given
 * directly, GHE_HOST, AWS endpoints, RUNNER_*) are what configures a local stack, so they pass.
 * @returns {Record<string, string>}
 */
const shellEnvironment = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (entry) => entry[1] !== undefined && !entry[0].startsWith('npm_'),
    ),
  );

/** @param {{ resolveVariable: Resolve }} context */
async function settings({ resolveVariable }) {
  const param = async (/** @type {string} */ name) =>
    String(await resolveVariable(`param:${name}`));
  return {
    stage: String(await resolveVariable('sls:stage')),
    region: String(await resolveVariable('aws:region')),
    profiles: loadDeployProfiles(),
    offline: isOffline(),
    reservedConcurrency: Number(await param('reservedConcurrency')),
    maximumEventAgeSeconds: Number(await param('maximumEventAgeSeconds')),
    jobPolicies: (await param('jobPolicies'))
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
    alarmEmail: await param('alarmEmail'),
    runnerImageUri: await param('runnerImageUri'),
    webhook: {
      REQUIRED_LABEL: await param('requiredLabel'),
      ALLOWED_REPOSITORIES: await param('allowedRepositories'),
      ALLOWED_OWNERS: await param('allowedOwners'),
      ALLOW_PUBLIC_REPOSITORIES: await param('allowPublicRepositories'),
      LOG_LEVEL: await param('logLevel'),
    },
    runner: {
      RUNNER_SCOPE: await param('runnerScope'),
      RUNNER_GROUP: await param('runnerGroup'),
      LOG_LEVEL: await param('logLevel'),
    },
  };
}

/** @param {{ resolveVariable: Resolve }} context */
async function functions(context) {
  const s = await settings(context);
  const webhookProfiles = s.profiles.map((profile) => ({
    name: profile.name,
    labels: profile.labels,
    functionName: runnerFunctionName(s.stage, profile),
    ...(profile.scope ? { scope: profile.scope } : {}),
    ...(profile.group ? { group: profile.group } : {}),
  }));
  /** @type {Record<string, any>} */
  const result = {
    webhook: {
      name: `lambda-runner-${s.stage}-webhook`,
      handler: 'webhook/index.handler',
      memorySize: 256,
      // GitHub waits 10 s for an answer; the webhook answers in milliseconds once warm.
      timeout: 10,
      role: 'WebhookRole',
      ...(s.offline ? {} : { package: { artifact: '../dist/lambda-webhook.zip' } }),
      environment: {
        ...(s.offline ? {} : { WEBHOOK_SECRET_ARN: { Ref: 'WebhookSecret' } }),
        ...s.webhook,
        ...(s.offline ? shellEnvironment() : {}),
        RUNNER_DISPATCH: 'lambda',
        RUNNER_PROFILES: JSON.stringify(webhookProfiles),
      },
      events: [{ httpApi: { method: 'POST', path: '/api/github/webhooks' } }],
    },
  };
  result.janitor = {
    name: `lambda-runner-${s.stage}-janitor`,
    handler: 'janitor/index.handler',
    memorySize: 256,
    timeout: 120,
    role: 'JanitorRole',
    ...(s.offline ? {} : { package: { artifact: '../dist/lambda-janitor.zip' } }),
    environment: {
      ...(s.offline ? shellEnvironment() : { GITHUB_APP_SECRET_ARN: { Ref: 'AppSecret' } }),
      RUNNER_SCOPE: s.runner.RUNNER_SCOPE,
      LOG_LEVEL: s.runner.LOG_LEVEL,
      // Longer than any runner Lambda can live (15 minutes), so only the dead are removed.
      JANITOR_GRACE_MINUTES: '20',
      JANITOR_MAX_CALLS: '200',
    },
    events: [{ schedule: 'rate(15 minutes)' }],
  };
  const image = runnerImage(s);
  for (const profile of s.profiles)
    result[functionKey(profile)] = runnerFunction(s, profile, image);
  return result;
}

/** @param {Awaited<ReturnType<typeof settings>>} s @param {import('./profiles').DeployProfile} profile @param {unknown} image */
function runnerFunction(s, profile, image) {
  return {
    name: runnerFunctionName(s.stage, profile),
    ...(s.offline ? { handler: 'runner/index.handler' } : { image }),
    memorySize: profile.memorySize ?? 3008,
    timeout: 900,
    ephemeralStorageSize: 10240,
    reservedConcurrency: profile.reservedConcurrency ?? s.reservedConcurrency,
    role: 'RunnerRole',
    // No automatic retry: a runner that failed has already cleaned up, and GitHub can requeue.
    // Retrying would be safe (the runner name is per job and attempt, so a second start gets
    // 409), but a failure belongs in the dead-letter queue where an alarm sees it.
    maximumRetryAttempts: 0,
    maximumEventAge: s.maximumEventAgeSeconds,
    ...(s.offline
      ? {}
      : {
          destinations: {
            onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['RunnerDeadLetterQueue', 'Arn'] } },
          },
        }),
    environment: {
      ...(s.offline
        ? {}
        : {
            GITHUB_APP_SECRET_ARN: { Ref: 'AppSecret' },
            JOB_ROLE_ARN: { 'Fn::GetAtt': ['JobRole', 'Arn'] },
          }),
      ...s.runner,
      ...(s.offline ? shellEnvironment() : {}),
      ...(profile.scope ? { RUNNER_SCOPE: profile.scope } : {}),
      ...(profile.group ? { RUNNER_GROUP: profile.group } : {}),
    },
  };
}

/**
 * The runner image: an explicit `runnerImageUri`, else the framework builds and pushes
 * runner/Dockerfile (provider.ecr.images.runner). Where no Docker engine answers, packaging
 * still works for inspection with a placeholder digest, and says so loudly: deploying that
 * package fails at CloudFormation instead of running anything.
 * @param {Awaited<ReturnType<typeof settings>>} s
 */
function runnerImage(s) {
  if (s.runnerImageUri) return { uri: s.runnerImageUri };
  if (s.offline || dockerAvailable()) return { name: 'runner' };
  process.emitWarning(
    'lambda-runner: no Docker engine answers, so the runner image is a placeholder. ' +
      'Deploy where Docker runs, or pass --param="runnerImageUri=<ecr uri>@sha256:<digest>".',
  );
  return {
    uri: `000000000000.dkr.ecr.${s.region}.amazonaws.com/lambda-runner-placeholder@sha256:${'0'.repeat(64)}`,
  };
}

function dockerAvailable() {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
      stdio: 'ignore',
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

/** @param {{ resolveVariable: Resolve }} context */
async function resources(context) {
  const s = await settings(context);
  const runnerIds = s.profiles.map((profile) => functionLogicalId(functionKey(profile)));
  const runnerNames = s.profiles.map((profile) => runnerFunctionName(s.stage, profile));
  const webhookName = `lambda-runner-${s.stage}-webhook`;
  return {
    Conditions: { HasAlarmEmail: { 'Fn::Not': [{ 'Fn::Equals': [s.alarmEmail, ''] }] } },
    Resources: {
      ...secrets(s.stage),
      RunnerDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: `lambda-runner-${s.stage}-runner-dlq`,
          MessageRetentionPeriod: 1209600,
          SqsManagedSseEnabled: true,
        },
      },
      ...roles({ stage: s.stage, webhookName, runnerNames, jobPolicies: s.jobPolicies }),
      ...alarms({
        stage: s.stage,
        functionIds: ['WebhookLambdaFunction', ...runnerIds],
        runnerIds,
      }),
      Dashboard: dashboard({ stage: s.stage, region: s.region, webhookName, runnerNames }),
      AlarmTopic: {
        Type: 'AWS::SNS::Topic',
        Condition: 'HasAlarmEmail',
        Properties: { TopicName: `lambda-runner-${s.stage}-alarms` },
      },
      AlarmSubscription: {
        Type: 'AWS::SNS::Subscription',
        Condition: 'HasAlarmEmail',
        Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: s.alarmEmail },
      },
    },
    Outputs: {
      WebhookUrl: {
        Description: 'Paste nothing: `npm run deploy:webhook-url` sets it on the GitHub App',
        Value: {
          'Fn::Join': [
            '',
            [
              'https://',
              { Ref: 'HttpApi' },
              '.execute-api.',
              s.region,
              '.amazonaws.com/api/github/webhooks',
            ],
          ],
        },
      },
      WebhookSecretArn: { Value: { Ref: 'WebhookSecret' } },
      AppSecretArn: { Value: { Ref: 'AppSecret' } },
      RunnerDeadLetterQueueUrl: { Value: { Ref: 'RunnerDeadLetterQueue' } },
    },
  };
}

module.exports = { functions, resources };
