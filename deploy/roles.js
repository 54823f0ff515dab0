// @ts-check
'use strict';
// One least-privilege role per function, and the role jobs run with. The runner role is the job
// role: whatever `jobPolicies` grants it, it always carries the stack's explicit deny
// (stack-guard.js), so no policy a user attaches can reach the App key or this stack.
const { stackGuard } = require('./stack-guard');

const lambdaTrust = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

/** Write access to the named functions' own log groups (the framework creates the groups). */
function logs(/** @type {string[]} */ functionNames) {
  return {
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: functionNames.map((name) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${name}:*`,
    })),
  };
}

const arn = (/** @type {string} */ service, /** @type {string} */ rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${rest}`,
});
const iamArn = (/** @type {string} */ rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${rest}`,
});

/**
 * Read one secret. Its ARN is spelled out (the 6-character suffix Secrets Manager adds is a
 * wildcard) rather than referenced, so the key policy can name these roles without a cycle;
 * decrypting is granted by the key policy alone (secrets.js).
 * @param {string} stage @param {string} name
 */
const readSecret = (stage, name) => ({
  Effect: 'Allow',
  Action: 'secretsmanager:GetSecretValue',
  Resource: arn('secretsmanager', `secret:lambda-runner/${stage}/${name}-??????`),
});

/** Where the roles that jobs may hand to their own functions live. @param {string} stage */
const jobRolePath = (stage) => `/lambda-runner/${stage}/job/`;

/**
 * What a job's own functions may do, as the pre-created job function role: data services and
 * logs, never IAM or this stack. A job may pass this role; it can create no role of its own.
 * @param {string} stage @param {unknown[]} guard
 */
function jobFunctionRole(stage, guard) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: `lambda-runner-${stage}-job-function`,
      Path: jobRolePath(stage),
      Description: 'lambda-runner: the role jobs may give the functions they deploy',
      AssumeRolePolicyDocument: lambdaTrust,
      Policies: [
        {
          PolicyName: 'job-function',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:*', 's3:*', 'dynamodb:*', 'sqs:*', 'sns:*', 'xray:*'],
                Resource: '*',
              },
              {
                Effect: 'Allow',
                Action: 'lambda:InvokeFunction',
                Resource: [arn('lambda', 'function:job-*'), arn('lambda', 'function:job-*:*')],
              },
              { Effect: 'Deny', Action: ['iam:*', 'sts:*', 'organizations:*'], Resource: '*' },
              ...guard,
            ],
          },
        },
      ],
    },
  };
}

/**
 * The example job policy (`--param="jobPolicies=sam-deploy"`): what a job needs to deploy a SAM
 * application, bounded. Lambda writes only on `job-*` functions; roles only the pre-created job
 * function role, passed only to Lambda; no role of its own (so no principal that someone outside
 * the account can assume). The runner role's deny keeps this stack out of reach.
 * @param {string} stage
 */
function samDeployPolicy(stage) {
  const jobFunctions = [arn('lambda', 'function:job-*'), arn('lambda', 'function:job-*:*')];
  return {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      Description: 'lambda-runner example job policy: deploy SAM applications, bounded',
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DeployApplications',
            Effect: 'Allow',
            Action: ['cloudformation:*', 's3:*', 'apigateway:*', 'dynamodb:*', 'logs:*'],
            Resource: '*',
          },
          { Sid: 'WriteJobFunctions', Effect: 'Allow', Action: 'lambda:*', Resource: jobFunctions },
          {
            Sid: 'ReadFunctions',
            Effect: 'Allow',
            Action: ['lambda:Get*', 'lambda:List*'],
            Resource: '*',
          },
          {
            Sid: 'MapEventsOntoJobFunctions',
            Effect: 'Allow',
            Action: [
              'lambda:CreateEventSourceMapping',
              'lambda:UpdateEventSourceMapping',
              'lambda:DeleteEventSourceMapping',
            ],
            Resource: '*',
            Condition: { ArnLike: { 'lambda:FunctionArn': jobFunctions } },
          },
          {
            Sid: 'PassTheJobFunctionRoleToLambdaOnly',
            Effect: 'Allow',
            Action: 'iam:PassRole',
            Resource: iamArn(`role${jobRolePath(stage)}*`),
            Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
          },
          {
            Sid: 'ReadTheJobFunctionRole',
            Effect: 'Allow',
            Action: 'iam:GetRole',
            Resource: iamArn(`role${jobRolePath(stage)}*`),
          },
        ],
      },
    },
  };
}

const lambdaArn = (/** @type {string} */ name) => arn('lambda', `function:${name}`);

/**
 * What the job role needs as a CodeBuild project's service role: its builds' log groups and its
 * runner image. Assumed by CodeBuild for this account's projects only.
 * @param {{ projects: string[], logGroups: string[], repositories: unknown[] }} builds
 */
function buildService(builds) {
  if (builds.projects.length === 0) return { trust: [], statements: [] };
  const trust = {
    Effect: 'Allow',
    Principal: { Service: 'codebuild.amazonaws.com' },
    Action: 'sts:AssumeRole',
    Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
  };
  const statements = [
    {
      Sid: 'WriteBuildLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: builds.logGroups.map((group) => arn('logs', `log-group:${group}:*`)),
    },
    {
      Sid: 'PullTheRunnerImage',
      Effect: 'Allow',
      Action: 'ecr:GetAuthorizationToken',
      Resource: '*',
    },
    ...(builds.repositories.length > 0
      ? [
          {
            Sid: 'PullTheRunnerImageLayers',
            Effect: 'Allow',
            Action: [
              'ecr:BatchCheckLayerAvailability',
              'ecr:GetDownloadUrlForLayer',
              'ecr:BatchGetImage',
            ],
            Resource: builds.repositories,
          },
        ]
      : []),
  ];
  return { trust: [trust], statements };
}

/**
 * @param {{ stage: string, webhookName: string, brokerName: string, runnerNames: string[],
 *   jobPolicies: string[], guard: import('./stack-guard').GuardInput,
 *   builds?: { projects: string[], logGroups: string[], repositories: unknown[] },
 *   additionalApps?: number }} options
 */
function roles({
  stage,
  webhookName,
  brokerName,
  runnerNames,
  jobPolicies,
  guard,
  builds,
  additionalApps,
}) {
  const buildAccess = builds ?? { projects: [], logGroups: [], repositories: [] };
  const service = buildService(buildAccess);
  const managed = jobPolicies.map((policy) =>
    policy === 'sam-deploy' ? { Ref: 'SamDeployJobPolicy' } : policy,
  );
  const role = (
    /** @type {string} */ name,
    /** @type {unknown[]} */ statements,
    extra = {},
    trust = lambdaTrust,
  ) => ({
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: `lambda-runner-${stage}-${name}`,
      AssumeRolePolicyDocument: trust,
      Policies: [
        { PolicyName: name, PolicyDocument: { Version: '2012-10-17', Statement: statements } },
      ],
      ...extra,
    },
  });
  const deny = stackGuard(guard);
  return {
    // The webhook holds the webhook secret and may put jobs on the broker's dispatch queue:
    // nothing else.
    WebhookRole: role('webhook', [
      logs([webhookName]),
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['DispatchQueue', 'Arn'] },
      },
      readSecret(stage, 'webhook-secret'),
      // Our jobs' states, as their deliveries tell them: written to the job items of the
      // control table and nowhere else (no start counts, no pace, no versions).
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: { 'Fn::GetAtt': ['ControlTable', 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['job#*'] } },
      },
    ]),
    // The broker: the only role that reads the App's key. It starts runners and keeps its own
    // failed events in its dead-letter queue.
    BrokerRole: role('broker', [
      logs([brokerName]),
      readSecret(stage, 'github-app'),
      ...Array.from({ length: additionalApps ?? 0 }, (_, index) =>
        readSecret(stage, `github-app-${index + 2}`),
      ),
      readSecret(stage, 'webhook-secret'),
      // Each runner in a version of its own: invoke it, publish it, delete it once settled.
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: runnerNames.flatMap((name) => [lambdaArn(name), lambdaArn(`${name}:*`)]),
      },
      {
        Effect: 'Allow',
        Action: [
          'lambda:GetFunctionConfiguration',
          'lambda:UpdateFunctionConfiguration',
          'lambda:PublishVersion',
          'lambda:ListVersionsByFunction',
          'lambda:GetFunctionEventInvokeConfig',
          'lambda:PutFunctionEventInvokeConfig',
        ],
        Resource: runnerNames.flatMap((name) => [lambdaArn(name), lambdaArn(`${name}:*`)]),
      },
      // Versions only: a qualified ARN never names the function itself.
      {
        Effect: 'Allow',
        Action: 'lambda:DeleteFunction',
        Resource: runnerNames.map((name) => lambdaArn(`${name}:*`)),
      },
      // Queued jobs and runner and build ends wait in its two queues; their event source
      // mappings read them with this role, and it hides a message for GitHub's wait.
      {
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
        ],
        Resource: [
          { 'Fn::GetAtt': ['DispatchQueue', 'Arn'] },
          { 'Fn::GetAtt': ['SettleQueue', 'Arn'] },
        ],
      },
      // Its own failed events go there; the schedule reads them back to replay them.
      {
        Effect: 'Allow',
        Action: [
          'sqs:SendMessage',
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ],
        Resource: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] },
      },
      ...startBuilds(buildAccess.projects),
      // Runner starts per job attempt, counted with conditional writes.
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
        ],
        Resource: { 'Fn::GetAtt': ['ControlTable', 'Arn'] },
      },
    ]),
    // The runner role is the job role: its own logs, sending its destination records to the
    // settle queue, the jobPolicies deploy parameter, and always the stack's explicit deny.
    RunnerRole: role(
      'runner',
      [
        logs(runnerNames),
        {
          Sid: 'DeliverDestinationRecords',
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] },
        },
        ...service.statements,
        ...deny,
      ],
      {
        Description:
          'Runner functions, CodeBuild runners and the jobs they run: the jobPolicies deploy parameter',
        ...(managed.length > 0 ? { ManagedPolicyArns: managed } : {}),
      },
      { ...lambdaTrust, Statement: [...lambdaTrust.Statement, ...service.trust] },
    ),
    ...(jobPolicies.includes('sam-deploy')
      ? {
          SamDeployJobPolicy: samDeployPolicy(stage),
          JobFunctionRole: jobFunctionRole(stage, deny),
        }
      : {}),
  };
}

/**
 * The broker alone starts builds of the stage's projects (and reads them, for `status`).
 * @param {string[]} projects
 */
function startBuilds(projects) {
  if (projects.length === 0) return [];
  return [
    {
      Sid: 'StartRunnerBuilds',
      Effect: 'Allow',
      Action: 'codebuild:StartBuild',
      Resource: projects.map((project) => arn('codebuild', `project/${project}`)),
    },
  ];
}

module.exports = { roles, jobRolePath };
