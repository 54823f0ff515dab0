// @ts-check
'use strict';
// Generates serverless.yml's functions and resources from one runner-profile list, so the
// webhook's RUNNER_PROFILES names exactly the runner functions this stack creates.
const {
  loadDeployProfiles,
  functionKey,
  functionLogicalId,
  runnerFunctionName,
  isCodeBuild,
} = require('./profiles');
const { buildAccess, buildResources, QUEUED_TIMEOUT_MINUTES } = require('./codebuild');
const { createHash } = require('node:crypto');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { alarms, dashboard } = require('./monitoring');
const { roles } = require('./roles');
const { secrets, additionalAppSecretIds } = require('./secrets');
const { checkConcurrencyHeadroom, splitList } = require('./parameters');
const { checkEnvironmentSizes } = require('./environment-size');
const RELEASE = require('./runner-release.json');
const { deployContext, rememberAfterSuccess } = require('./stage-file');
const { lockRelease, releasesRequest } = require('./release-lock');
const {
  BASE_IMAGE,
  archOf,
  buildArgs,
  dockerProblem,
  resolveBaseImageDigest,
} = require('./runner-image');
const { profileList, routingEnvironment } = require('./routing');

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

/**
 * The broker's additional Apps: their secrets' ARNs, comma-separated (none: nothing set).
 * @param {number} count
 */
const additionalAppsEnvironment = (count) =>
  count > 0
    ? {
        ADDITIONAL_APP_SECRET_ARNS: {
          'Fn::Join': [',', additionalAppSecretIds(count).map((id) => ({ Ref: id }))],
        },
      }
    : {};

/**
 * Everything the template depends on, read once per command: the stage file, the command line
 * and the defaults, every parameter checked (see parameters.js).
 */
function settings() {
  const context = deployContext();
  const p = context.params;
  const profiles = loadDeployProfiles(context.profilesFile, splitList(p.runnerLabels ?? ''));
  checkConcurrencyHeadroom(
    [
      Number(p.webhookReservedConcurrency),
      Number(p.brokerReservedConcurrency),
      ...profiles
        .filter((profile) => !isCodeBuild(profile))
        .map((profile) => profile.reservedConcurrency ?? Number(p.reservedConcurrency)),
    ],
    Number(p.accountConcurrency),
  );
  const ghes = p.gheHost ? { GHE_HOST: p.gheHost, GHE_PROTOCOL: p.gheProtocol } : {};
  return {
    stage: context.stage,
    region: context.region,
    command: context.command,
    params: p,
    profiles,
    offline: isOffline(),
    reservedConcurrency: Number(p.reservedConcurrency),
    maximumEventAgeSeconds: Number(p.maximumEventAgeSeconds),
    jobPolicies: splitList(p.jobPolicies ?? ''),
    alarmEmail: p.alarmEmail ?? '',
    webhook: {
      LOG_LEVEL: p.logLevel,
      ...ghes,
    },
    runner: {
      RUNNER_SCOPE: p.runnerScope,
      RUNNER_GROUP: p.runnerGroup,
      RUNNER_REGISTRATION: p.runnerRegistration,
      LOG_LEVEL: p.logLevel,
      ...ghes,
    },
  };
}

/** @typedef {ReturnType<typeof settings>} Settings */

/** The stage's region, for provider.region: `--region`, else the stage file, else us-east-1. */
function region() {
  return deployContext().region;
}

/** Log retention for provider.logRetentionInDays, checked against what CloudWatch accepts. */
function logRetentionInDays() {
  return Number(deployContext().params.logRetentionDays);
}

/** Commands that build and push the runner image: the only ones that need Docker or a release. */
const buildsImages = (/** @type {string} */ command) => ['package', 'deploy'].includes(command);

/** @type {Promise<import('./runner-release').RunnerRelease> | undefined} */
let release;

/**
 * The runner release this command builds, resolved once: when the framework builds the image (a
 * package or deploy where Docker runs), the stage's lock or the pinned or latest release,
 * checked against GitHub's rules and locked in the stage file on success; otherwise the lock as
 * it stands, since nothing is built.
 */
function runnerRelease() {
  const context = deployContext();
  const saved = context.saved.runnerRelease;
  const builds = buildsImages(context.command) && !isOffline() && !imageBuildProblem();
  if (!builds) return Promise.resolve(saved ?? { ...RELEASE, publishedAt: '', sha256: {} });
  release ??= lockRelease({
    saved,
    pinned: context.params.runnerVersion || undefined,
    allowStale: context.params.runnerAllowStale === 'true',
    request: releasesRequest(),
  }).then((lock) => {
    rememberAfterSuccess(context.stage, { runnerRelease: lock });
    return lock;
  });
  return release;
}

/**
 * The runner images the framework builds when no pushed image is given: one per architecture,
 * each built for its platform, without provenance attestations (Lambda rejects an OCI index),
 * and with the locked runner release, its checksum and the pinned base image as build arguments.
 */
async function ecr() {
  const lock = await runnerRelease();
  const base = baseImageDigest();
  const image = (/** @type {string} */ platform) => ({
    path: '../',
    file: 'runner/Dockerfile',
    platform,
    provenance: 'false',
    buildArgs: buildArgs(lock, archOf(platform), base),
  });
  return {
    scanOnPush: true,
    images: { runner: image('linux/amd64'), 'runner-arm64': image('linux/arm64') },
  };
}

/**
 * The base image's digest: the stage's `baseImageDigest`, else the one it locked, else (when
 * this command builds) the digest Docker resolves for the tag today, locked on success.
 */
function baseImageDigest() {
  const context = deployContext();
  const given = context.params.baseImageDigest || context.saved.baseImage?.digest;
  if (given) return given;
  if (!buildsImages(context.command) || isOffline() || imageBuildProblem()) return '';
  const digest = resolveBaseImageDigest();
  rememberAfterSuccess(context.stage, { baseImage: { image: BASE_IMAGE, digest } });
  return digest;
}

/**
 * What the runner functions are made of, as a short mark: versions published under another mark
 * (before a deploy changed the image, the release or the settings) are never handed a job.
 * @param {unknown[]} runners @param {unknown} lock
 */
function runnerDeployment(runners, lock) {
  const bundle = path.join(__dirname, '../dist/runner/index.js');
  return createHash('sha256')
    .update(JSON.stringify({ runners, lock }))
    .update(existsSync(bundle) ? readFileSync(bundle) : '')
    .digest('hex')
    .slice(0, 16);
}

const SCHEDULE_ALIAS = 'schedule';

/**
 * The broker's schedule: every 15 minutes, through an alias of its own. Any job may invoke the
 * broker (its runner delivers destination records with the job's role), but not this alias, and
 * the broker runs its schedule only for events that came through it.
 */
function scheduleResources() {
  return {
    BrokerScheduleAlias: {
      Type: 'AWS::Lambda::Alias',
      Properties: {
        FunctionName: { Ref: 'BrokerLambdaFunction' },
        FunctionVersion: '$LATEST',
        Name: SCHEDULE_ALIAS,
        Description: 'lambda-runner: the schedule alone invokes the broker through this alias',
      },
    },
    BrokerScheduleRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        ScheduleExpression: 'rate(15 minutes)',
        State: 'ENABLED',
        Targets: [{ Arn: { Ref: 'BrokerScheduleAlias' }, Id: 'brokerSchedule' }],
      },
    },
    BrokerSchedulePermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: { Ref: 'BrokerScheduleAlias' },
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['BrokerScheduleRule', 'Arn'] },
      },
    },
  };
}

async function functions() {
  const s = settings();
  const lock = await runnerRelease();
  const profiles = profileList(s.stage, s.profiles);
  const brokerName = `lambda-runner-${s.stage}-broker`;
  /** @type {Record<string, any>} */
  const result = {
    webhook: {
      name: `lambda-runner-${s.stage}-webhook`,
      handler: 'webhook/index.handler',
      memorySize: 256,
      // GitHub waits 10 s for an answer; the webhook answers in milliseconds once warm.
      timeout: 10,
      role: 'WebhookRole',
      reservedConcurrency: Number(s.params.webhookReservedConcurrency),
      ...(s.offline ? {} : { package: { artifact: '../dist/lambda-webhook.zip' } }),
      environment: {
        ...(s.offline ? {} : { WEBHOOK_SECRET_ARN: { Ref: 'WebhookSecret' } }),
        ...s.webhook,
        ...(s.offline ? shellEnvironment() : {}),
        ...routingEnvironment({ stage: s.stage, params: s.params, profiles: s.profiles }),
        // Deployed, jobs wait in the broker's dispatch queue. serverless offline has no queues:
        // the local stack invokes the broker, unless it runs an SQS of its own
        // (OFFLINE_DISPATCH=queue, with DISPATCH_QUEUE_URL from the shell).
        ...(s.offline
          ? {
              RUNNER_DISPATCH: process.env.OFFLINE_DISPATCH === 'queue' ? 'queue' : 'lambda',
              BROKER_FUNCTION_NAME: brokerName,
              // A local stack records job states from deliveries only when asked
              // (OFFLINE_JOB_STATES=record); otherwise its broker asks GitHub, as before them.
              ...(process.env.OFFLINE_JOB_STATES === 'record' ? {} : { CONTROL_TABLE: '' }),
            }
          : {
              RUNNER_DISPATCH: 'queue',
              DISPATCH_QUEUE_URL: { Ref: 'DispatchQueue' },
              // Where our jobs' states are recorded from their deliveries, for the broker.
              CONTROL_TABLE: { Ref: 'ControlTable' },
            }),
      },
      events: [{ httpApi: { method: 'POST', path: '/api/github/webhooks' } }],
    },
  };
  const lambdas = s.profiles.filter((profile) => !isCodeBuild(profile));
  for (const profile of lambdas)
    result[functionKey(profile)] = runnerFunction(s, profile, runnerImage(s, profile));
  const deployment = runnerDeployment(
    lambdas.map((profile) => result[functionKey(profile)]),
    lock,
  );
  result.broker = brokerFunction(s, brokerName, profiles, lock.version, deployment);
  if (!s.offline) checkEnvironmentSizes(result);
  return result;
}

/**
 * The broker: the only function that reads the App's key. Its own failed events (GitHub down
 * past Lambda's two retries) wait in its dead-letter queue. Once a day its schedule reads how far
 * the runner release it was deployed with is behind GitHub's latest.
 * @param {Settings} s @param {string} name @param {unknown[]} profiles @param {string} runnerVersion
 */
function brokerFunction(s, name, profiles, runnerVersion, deployment) {
  return {
    name,
    handler: s.offline ? 'offline/handlers.broker' : 'broker/index.handler',
    memorySize: 512,
    timeout: 120,
    role: 'BrokerRole',
    reservedConcurrency: Number(s.params.brokerReservedConcurrency),
    maximumRetryAttempts: 2,
    ...(s.offline
      ? {}
      : {
          package: { artifact: '../dist/lambda-broker.zip' },
          destinations: {
            onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] } },
          },
        }),
    environment: {
      ...(s.offline
        ? shellEnvironment()
        : {
            GITHUB_APP_SECRET_ARN: { Ref: 'AppSecret' },
            ...additionalAppsEnvironment(Number(s.params.additionalApps)),
            WEBHOOK_SECRET_ARN: { Ref: 'WebhookSecret' },
            BROKER_DLQ_URL: { Ref: 'BrokerDeadLetterQueue' },
            DISPATCH_QUEUE_URL: { Ref: 'DispatchQueue' },
            SETTLE_QUEUE_URL: { Ref: 'SettleQueue' },
            // Jobs wait in the queues: a rate-limit window longer than this is waited out there.
            RATE_LIMIT_MAX_SLEEP_SECONDS: '5',
            // GitHub's secondary limit, taken before each call by every broker together.
            GITHUB_POINTS_PER_MINUTE: '900',
            CONTROL_TABLE: { Ref: 'ControlTable' },
            // One job per execution environment: a version of its runner function each.
            SCHEDULE_ALIAS: SCHEDULE_ALIAS,
            RUNNER_ISOLATION: 'version',
            RUNNER_ENVIRONMENT_POOL: s.params.environmentPoolSize,
            RUNNER_DEPLOYMENT: deployment,
          }),
      ...s.runner,
      RUNNER_PROFILES: JSON.stringify(profiles),
      // Longer than any runner Lambda can live (15 minutes), so only the dead are removed; with
      // CodeBuild profiles, longer than a build may wait for its machine, its runner offline.
      JANITOR_GRACE_MINUTES: String(
        s.profiles.some(isCodeBuild) ? 20 + QUEUED_TIMEOUT_MINUTES : 20,
      ),
      JANITOR_MAX_CALLS: '200',
      RUNNER_VERSION: runnerVersion,
      // The broker refuses destination records of runner payloads sealed longer ago.
      RUNNER_EVENT_MAX_AGE_SECONDS: String(s.maximumEventAgeSeconds),
    },
    // Deployed, the schedule invokes the broker's alias (scheduleResources), which no job may,
    // and the broker takes queued jobs from the dispatch queue and runner ends and build ends
    // from the settle queue, a bounded number of batches at once.
    events: s.offline
      ? [{ schedule: 'rate(15 minutes)' }]
      : [
          queueEvent('DispatchQueue', Math.floor(Number(s.params.brokerReservedConcurrency) / 2)),
          queueEvent('SettleQueue', Math.ceil(Number(s.params.brokerReservedConcurrency) / 2)),
        ],
  };
}

/** @param {Settings} s @param {import('./profiles').DeployProfile} profile @param {unknown} image */
function runnerFunction(s, profile, image) {
  // Its end (success and failure) goes to the settle queue, which the broker consumes: the
  // runner (so the job) may send there, and may invoke no function.
  const settle = { type: 'sqs', arn: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] } };
  return {
    name: runnerFunctionName(s.stage, profile),
    architecture: profile.architecture ?? 'x86_64',
    // serverless offline delivers no destinations: its runner handler delivers them itself.
    ...(s.offline ? { handler: 'offline/handlers.runner' } : { image }),
    memorySize: profile.memorySize ?? 3008,
    timeout: 900,
    ephemeralStorageSize: 10240,
    reservedConcurrency: profile.reservedConcurrency ?? s.reservedConcurrency,
    // The runner role is the job role: what jobs may do in AWS, and nothing that reads a secret.
    role: 'RunnerRole',
    // No automatic retry: the broker settles every runner from its destination record and
    // dispatches the job again while it waits, under a new runner name.
    maximumRetryAttempts: 0,
    maximumEventAge: s.maximumEventAgeSeconds,
    ...(s.offline ? {} : { destinations: { onSuccess: settle, onFailure: settle } }),
    environment: {
      LOG_LEVEL: s.runner.LOG_LEVEL,
      ...(s.offline
        ? { ...shellEnvironment(), OFFLINE_BROKER_FUNCTION_NAME: `lambda-runner-${s.stage}-broker` }
        : {}),
    },
  };
}

/**
 * The runner image of a profile's architecture: a pushed image pinned by digest
 * (`runnerImageUri` / `runnerImageUriArm64`), else the one the framework builds and pushes
 * (provider.ecr.images). `deploy` refuses to go on without a real image: no Docker engine, or
 * no pinned base image. `package` still writes a template for inspection, with a placeholder
 * digest, and says so.
 * @param {Settings} s @param {import('./profiles').DeployProfile} profile
 */
function runnerImage(s, profile) {
  const arm = profile.architecture === 'arm64';
  const uri = arm ? s.params.runnerImageUriArm64 : s.params.runnerImageUri;
  if (uri) return { uri };
  if (s.offline) return { name: 'runner' };
  if (!buildsImages(s.command)) return { uri: placeholderImage(s.region) };
  const missing = imageBuildProblem();
  if (!missing) return { name: arm ? 'runner-arm64' : 'runner' };
  const advice =
    `lambda-runner: ${missing}, so there is no real runner image for profile "${profile.name}". ` +
    `Build where Docker runs, or push an image (npm run docker:build, then docker:push) and pass --param="${arm ? 'runnerImageUriArm64' : 'runnerImageUri'}=<ecr uri>@sha256:<digest>".`;
  return { uri: noImage(s, advice) };
}

/**
 * No real image for what the stack runs: `deploy` stops with `advice`; `package` warns and
 * writes a placeholder, for a template to inspect.
 * @param {Settings} s @param {string} advice
 */
function noImage(s, advice) {
  if (s.command === 'deploy') throw new Error(advice);
  process.emitWarning(`${advice} This package holds a placeholder image and cannot be deployed.`);
  return placeholderImage(s.region);
}

/** An image reference of the right shape for commands that build nothing. @param {string} region */
const placeholderImage = (region) =>
  `000000000000.dkr.ecr.${region}.amazonaws.com/lambda-runner-placeholder@sha256:${'0'.repeat(64)}`;

/** @type {string | undefined | null} */
let dockerAnswer = null;

/** Why the framework cannot build the image here, if it cannot; Docker is asked once per command. */
function imageBuildProblem() {
  if (dockerAnswer === null) dockerAnswer = dockerProblem();
  return dockerAnswer;
}

/** The alarm topic and its e-mail subscription, only when the stage names an address. @param {Settings} s */
function alarmTopic(s) {
  if (!s.alarmEmail) return {};
  return {
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `lambda-runner-${s.stage}-alarms` },
    },
    AlarmSubscription: {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: s.alarmEmail },
    },
  };
}

/**
 * The CodeBuild runner image of each architecture a `codebuild` profile uses: a pushed image
 * pinned by digest (`codebuildImageUri`, `codebuildImageUriArm64`). `deploy` refuses to go on
 * without it, naming the parameter; `package` writes a placeholder and says so.
 * @param {Settings} s
 */
function buildImages(s) {
  const builds = s.profiles.filter(isCodeBuild);
  /** @param {'x86_64' | 'arm64'} arch @param {string} param */
  const image = (arch, param) => {
    const uri = s.params[param];
    const needed = builds.some((profile) => (profile.architecture ?? 'x86_64') === arch);
    if (uri || !needed || s.offline) return uri || placeholderImage(s.region);
    const advice =
      `lambda-runner: a codebuild profile runs on ${arch}, and there is no CodeBuild runner image for it. ` +
      `Build and push it (npm run docker:build -- --stage ${s.stage} --target codebuild${arch === 'arm64' ? ' --platform linux/arm64' : ''}, then docker:push) and pass --param="${param}=<ecr uri>@sha256:<digest>".`;
    return noImage(s, advice);
  };
  return {
    x86_64: image('x86_64', 'codebuildImageUri'),
    arm64: image('arm64', 'codebuildImageUriArm64'),
  };
}

function resources() {
  const s = settings();
  const lambdas = s.profiles.filter((profile) => !isCodeBuild(profile));
  const runnerIds = lambdas.map((profile) => functionLogicalId(functionKey(profile)));
  const runnerNames = lambdas.map((profile) => runnerFunctionName(s.stage, profile));
  const builds = {
    stage: s.stage,
    profiles: s.profiles,
    images: buildImages(s),
    logRetentionDays: Number(s.params.logRetentionDays),
    queuedAlarmMinutes: Number(s.params.buildQueuedAlarmMinutes),
    alarmActions: s.alarmEmail ? [{ Ref: 'AlarmTopic' }] : [],
  };
  const webhookName = `lambda-runner-${s.stage}-webhook`;
  const brokerName = `lambda-runner-${s.stage}-broker`;
  return {
    Resources: {
      ...secrets(s.stage, Number(s.params.additionalApps)),
      BrokerDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: `lambda-runner-${s.stage}-broker-dlq`,
          MessageRetentionPeriod: 1209600,
          SqsManagedSseEnabled: true,
        },
      },
      // Where queued jobs wait for a broker (the webhook's sealed requests), and where runners'
      // destination records and builds' state changes wait for it to settle them.
      DispatchQueue: brokerQueue(`lambda-runner-${s.stage}-dispatch`),
      SettleQueue: brokerQueue(`lambda-runner-${s.stage}-settle`),
      // What every broker instance must agree on: runner starts per job attempt.
      ControlTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: `lambda-runner-${s.stage}-control`,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
        },
      },
      ...roles({
        stage: s.stage,
        webhookName,
        brokerName,
        runnerNames,
        jobPolicies: s.jobPolicies,
        builds: buildAccess(builds),
        additionalApps: Number(s.params.additionalApps),
        guard: {
          stage: s.stage,
          webhookName,
          brokerName,
          runnerNames,
          alarmTopic: Boolean(s.alarmEmail),
          httpApiAccessLogGroup: `/aws/http-api/lambda-runner-${s.stage}`,
        },
      }),
      ...alarms({
        stage: s.stage,
        functionIds: ['WebhookLambdaFunction', 'BrokerLambdaFunction', ...runnerIds],
        runnerIds,
        scheduledIds: ['BrokerLambdaFunction'],
        profileNames: s.profiles.map((profile) => profile.name),
        notify: Boolean(s.alarmEmail),
      }),
      Dashboard: dashboard({
        stage: s.stage,
        region: s.region,
        webhookName,
        brokerName,
        runnerNames,
      }),
      ...alarmTopic(s),
      ...(s.offline ? {} : scheduleResources()),
      ...(s.offline ? {} : buildResources(builds)),
    },
    // The webhook's API stage: at most this many deliveries a second, whatever floods it.
    extensions: s.offline
      ? {}
      : {
          HttpApiStage: {
            Properties: {
              DefaultRouteSettings: {
                ThrottlingRateLimit: Number(s.params.apiThrottleRateLimit),
                ThrottlingBurstLimit: Number(s.params.apiThrottleBurstLimit),
              },
            },
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
              { Ref: 'AWS::Region' },
              '.',
              { Ref: 'AWS::URLSuffix' },
              '/api/github/webhooks',
            ],
          ],
        },
      },
      WebhookSecretArn: { Value: { Ref: 'WebhookSecret' } },
      AppSecretArn: { Value: { Ref: 'AppSecret' } },
      BrokerDeadLetterQueueUrl: { Value: { Ref: 'BrokerDeadLetterQueue' } },
      DispatchQueueUrl: { Value: { Ref: 'DispatchQueue' } },
      SettleQueueUrl: { Value: { Ref: 'SettleQueue' } },
    },
  };
}

/**
 * A queue the broker consumes: invisible for six times the broker's timeout while a broker has
 * a message (AWS's advice for a function's queue); a message that keeps failing goes to the
 * dead-letter queue, which the schedule replays.
 * @param {string} name
 */
function brokerQueue(name) {
  return {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: name,
      VisibilityTimeout: 720,
      MessageRetentionPeriod: 345600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] },
        maxReceiveCount: 10,
      },
    },
  };
}

/**
 * The broker reads a queue in batches of ten, keeping what failed, at most `concurrency`
 * batches at once (so a burst waits in the queue, not in running functions).
 * @param {string} queueId @param {number} concurrency
 */
const queueEvent = (queueId, concurrency) => ({
  sqs: {
    arn: { 'Fn::GetAtt': [queueId, 'Arn'] },
    batchSize: 10,
    functionResponseType: 'ReportBatchItemFailures',
    maximumConcurrency: Math.max(2, concurrency),
  },
});

/**
 * Under the serverless command, a setting that is wrong ends the command with its one message:
 * the framework would otherwise repeat it, with a stack trace, for every variable that reads it.
 * @template {(...args: any[]) => any} F
 * @param {F} source
 * @returns {F}
 */
function oneMessage(source) {
  const stop = (/** @type {unknown} */ error) => {
    if (!/(serverless|sls|osls)(\.js)?$/.test(process.argv[1] ?? '')) throw error;
    process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  };
  return /** @type {F} */ (
    (/** @type {any[]} */ ...args) => {
      try {
        const result = source(...args);
        return result instanceof Promise ? result.catch(stop) : result;
      } catch (error) {
        return stop(error);
      }
    }
  );
}

module.exports = {
  functions: oneMessage(functions),
  resources: oneMessage(resources),
  region: oneMessage(region),
  logRetentionInDays: oneMessage(logRetentionInDays),
  ecr: oneMessage(ecr),
};
