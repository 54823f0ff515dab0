// @ts-check
'use strict';
// The CodeBuild executor's resources: one project per `executor: codebuild` profile (its log
// group and alarms), and the rule that brings each build's end to the broker. A build runs the
// runner entry (dist/runner/codebuild.js) in the CodeBuild runner image with the job role.
const { buildProjectName, buildTimeout, isCodeBuild, EC2_COMPUTE } = require('./profiles');

/** What each build runs: dockerd first where the project is privileged, then the runner. */
const BUILDSPEC = [
  'version: 0.2',
  'phases:',
  '  build:',
  '    commands:',
  '      - |',
  '        if [ "$LAMBDA_RUNNER_DOCKER" = "true" ]; then',
  '          nohup dockerd --host=unix:///var/run/docker.sock > /tmp/dockerd.log 2>&1 &',
  '          timeout 30 sh -c "until docker info > /dev/null 2>&1; do sleep 1; done"',
  '        fi',
  '      - /var/lang/bin/node /var/task/codebuild.js',
  '',
].join('\n');

/** How long a build may wait for a machine; its runner's registration is offline meanwhile. */
const QUEUED_TIMEOUT_MINUTES = 30;

/** CloudFormation's logical id part for a profile: `docker-big` -> `DockerBig`. */
const idOf = (/** @type {string} */ name) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/** @param {import('./profiles').DeployProfile} profile */
function environmentType(profile) {
  const arm = profile.architecture === 'arm64';
  if (EC2_COMPUTE.includes(profile.computeType ?? ''))
    return arm ? 'ARM_CONTAINER' : 'LINUX_CONTAINER';
  return arm ? 'ARM_LAMBDA_CONTAINER' : 'LINUX_LAMBDA_CONTAINER';
}

/** The project's log group: the job's own output, under the stage's retention. */
const logGroupName = (/** @type {string} */ project) => `/aws/codebuild/${project}`;

/**
 * `arn:...:ecr:<region>:<account>:repository/<name>` for an image URI pinned by digest.
 * @param {string} uri
 */
function repositoryArn(uri) {
  const match = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^@:]+)/.exec(uri);
  if (!match) return undefined;
  return { 'Fn::Sub': `arn:\${AWS::Partition}:ecr:${match[2]}:${match[1]}:repository/${match[3]}` };
}

/**
 * @typedef {{ stage: string, profiles: import('./profiles').DeployProfile[],
 *   images: { x86_64: string, arm64: string }, logRetentionDays: number,
 *   queuedAlarmMinutes: number, alarmActions: unknown[] }} BuildInput
 */

/** The CodeBuild profiles of a stage with their project names and images. @param {BuildInput} input */
function buildProfiles({ stage, profiles, images }) {
  return profiles.filter(isCodeBuild).map((profile) => ({
    profile,
    id: idOf(profile.name),
    project: buildProjectName(stage, profile),
    image: profile.architecture === 'arm64' ? images.arm64 : images.x86_64,
  }));
}

/**
 * One project, its log group and its two alarms (failed builds; builds queued too long).
 * @param {ReturnType<typeof buildProfiles>[number]} build @param {BuildInput} input
 */
function projectResources({ profile, id, project, image }, input) {
  const docker = profile.docker === true;
  const alarm = (/** @type {string} */ metric, /** @type {number} */ threshold, text) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: `lambda-runner ${input.stage}: ${text}`,
      Namespace: 'AWS/CodeBuild',
      MetricName: metric,
      Dimensions: [{ Name: 'ProjectName', Value: project }],
      Statistic: metric === 'FailedBuilds' ? 'Sum' : 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: input.alarmActions,
    },
  });
  return {
    [`Build${id}LogGroup`]: {
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        LogGroupName: logGroupName(project),
        RetentionInDays: input.logRetentionDays,
      },
    },
    [`Build${id}Project`]: {
      Type: 'AWS::CodeBuild::Project',
      DependsOn: [`Build${id}LogGroup`],
      Properties: {
        Name: project,
        Description: `lambda-runner: profile ${profile.name}, one build per job`,
        // The job role: what jobs may do in AWS, under the stack's explicit deny.
        ServiceRole: { 'Fn::GetAtt': ['RunnerRole', 'Arn'] },
        Source: { Type: 'NO_SOURCE', BuildSpec: BUILDSPEC },
        Artifacts: { Type: 'NO_ARTIFACTS' },
        Environment: {
          Type: environmentType(profile),
          ComputeType: profile.computeType,
          Image: image,
          ImagePullCredentialsType: 'SERVICE_ROLE',
          PrivilegedMode: docker,
          EnvironmentVariables: [
            { Name: 'LAMBDA_RUNNER_DOCKER', Type: 'PLAINTEXT', Value: String(docker) },
          ],
        },
        TimeoutInMinutes: buildTimeout(profile),
        // A build that found no machine in this time ends (TIMED_OUT): the job is dispatched again.
        QueuedTimeoutInMinutes: QUEUED_TIMEOUT_MINUTES,
        LogsConfig: {
          CloudWatchLogs: { Status: 'ENABLED', GroupName: logGroupName(project) },
        },
        Tags: [{ Key: 'project', Value: 'lambda-runner' }],
      },
    },
    [`Build${id}FailedAlarm`]: alarm(
      'FailedBuilds',
      0,
      `a build of ${project} failed (its runner could not serve its job)`,
    ),
    [`Build${id}QueuedAlarm`]: alarm(
      'QueuedDuration',
      input.queuedAlarmMinutes * 60,
      `a build of ${project} waited over ${input.queuedAlarmMinutes} minutes for a machine`,
    ),
  };
}

/**
 * Every CodeBuild profile's project, and the rule that sends each build's end (its state change
 * event) to the settle queue, where the broker checks it as it checks a destination record.
 * @param {BuildInput} input
 */
function buildResources(input) {
  const builds = buildProfiles(input);
  if (builds.length === 0) return {};
  /** @type {Record<string, unknown>} */
  const result = {};
  for (const build of builds) Object.assign(result, projectResources(build, input));
  result.BuildStateRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description: 'lambda-runner: a build ended; the broker settles its runner',
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: {
          'project-name': builds.map((build) => build.project),
          'build-status': ['SUCCEEDED', 'FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'],
        },
      },
      Targets: [{ Arn: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] }, Id: 'settleQueue' }],
    },
  };
  // EventBridge may send this rule's events to the settle queue, and nothing else may but the
  // roles that are allowed to (the runner role, for its destination records).
  result.BuildStateQueuePolicy = {
    Type: 'AWS::SQS::QueuePolicy',
    Properties: {
      Queues: [{ Ref: 'SettleQueue' }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'BuildEndsFromTheRule',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] },
            Condition: {
              ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['BuildStateRule', 'Arn'] } },
            },
          },
        ],
      },
    },
  };
  return result;
}

/** What roles.js needs: project names, log groups and image repositories. @param {BuildInput} input */
function buildAccess(input) {
  const builds = buildProfiles(input);
  return {
    projects: builds.map((build) => build.project),
    logGroups: builds.map((build) => logGroupName(build.project)),
    repositories: [...new Set(builds.map((build) => build.image))]
      .map(repositoryArn)
      .filter((arn) => arn !== undefined),
  };
}

module.exports = {
  buildResources,
  buildAccess,
  BUILDSPEC,
  QUEUED_TIMEOUT_MINUTES,
};
