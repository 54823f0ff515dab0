// @ts-check
'use strict';
// One least-privilege role per function, and the separate role jobs run with.

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

/** Read one secret, and decrypt it with the stack key only through Secrets Manager. */
function readSecret(/** @type {string} */ secretId) {
  return [
    { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secretId } },
    {
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: { 'Fn::GetAtt': ['SecretsKey', 'Arn'] },
      Condition: {
        StringEquals: {
          'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' },
        },
      },
    },
  ];
}

const arn = (/** @type {string} */ service, /** @type {string} */ rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${rest}`,
});
const iamArn = (/** @type {string} */ rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${rest}`,
});

/** Roles that jobs create must carry this prefix (and the boundary below). */
const JOB_ROLE_PREFIX = 'job-';

/**
 * What this stack itself is made of. No job policy may touch it: its functions (a job could
 * swap the broker's code and read the App key), its roles, secrets, key and stack.
 * @param {string} stage
 */
function stackOwnDeny(stage) {
  return {
    Sid: 'NeverTouchThisStack',
    Effect: 'Deny',
    Action: '*',
    Resource: [
      arn('lambda', `function:lambda-runner-${stage}-*`),
      iamArn(`role/lambda-runner-${stage}-*`),
      arn('secretsmanager', `secret:lambda-runner/${stage}/*`),
      arn('cloudformation', `stack/lambda-runner-${stage}/*`),
      { 'Fn::GetAtt': ['SecretsKey', 'Arn'] },
    ],
  };
}

/**
 * The permissions boundary every role a job creates must carry: the most such a role can ever
 * do, whatever policy the job attaches to it. It can never touch this stack or IAM.
 * @param {string} stage
 */
function jobBoundaryPolicy(stage) {
  return {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      Description: 'lambda-runner: the most a role created by a job may ever do',
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'logs:*',
              's3:*',
              'dynamodb:*',
              'sqs:*',
              'sns:*',
              'lambda:InvokeFunction',
              'xray:*',
            ],
            Resource: '*',
          },
          { Effect: 'Deny', Action: ['iam:*', 'sts:AssumeRole', 'organizations:*'], Resource: '*' },
          stackOwnDeny(stage),
        ],
      },
    },
  };
}

/**
 * The example job policy (`--param="jobPolicies=sam-deploy"`): what a job needs to deploy a SAM
 * application, bounded so a job cannot raise its own rights. Roles it creates must be named
 * `job-*` and carry the boundary policy; it may pass only those roles, and only to Lambda and
 * CloudFormation; it can never touch this stack's functions, roles, secrets, key or stack.
 * @param {string} stage
 */
function samDeployPolicy(stage) {
  const jobRoles = iamArn(`role/${JOB_ROLE_PREFIX}*`);
  const withBoundary = {
    StringEquals: { 'iam:PermissionsBoundary': { Ref: 'JobBoundaryPolicy' } },
  };
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
            Action: [
              'cloudformation:*',
              'lambda:*',
              's3:*',
              'apigateway:*',
              'dynamodb:*',
              'logs:*',
            ],
            Resource: '*',
          },
          {
            Sid: 'CreateBoundedRoles',
            Effect: 'Allow',
            Action: [
              'iam:CreateRole',
              'iam:PutRolePolicy',
              'iam:AttachRolePolicy',
              'iam:DetachRolePolicy',
              'iam:DeleteRolePolicy',
              'iam:PutRolePermissionsBoundary',
            ],
            Resource: jobRoles,
            Condition: withBoundary,
          },
          {
            Sid: 'ManageJobRoles',
            Effect: 'Allow',
            Action: [
              'iam:GetRole',
              'iam:GetRolePolicy',
              'iam:DeleteRole',
              'iam:TagRole',
              'iam:UntagRole',
            ],
            Resource: jobRoles,
          },
          {
            Sid: 'PassJobRolesToLambdaOnly',
            Effect: 'Allow',
            Action: 'iam:PassRole',
            Resource: jobRoles,
            Condition: {
              StringEquals: {
                'iam:PassedToService': ['lambda.amazonaws.com', 'cloudformation.amazonaws.com'],
              },
            },
          },
          {
            Sid: 'KeepTheBoundary',
            Effect: 'Deny',
            Action: [
              'iam:DeleteRolePermissionsBoundary',
              'iam:CreatePolicyVersion',
              'iam:SetDefaultPolicyVersion',
            ],
            Resource: '*',
          },
          stackOwnDeny(stage),
        ],
      },
    },
  };
}

const lambdaArn = (/** @type {string} */ name) => arn('lambda', `function:${name}`);

/**
 * @param {{ stage: string, webhookName: string, brokerName: string, runnerNames: string[],
 *   jobPolicies: string[] }} options
 */
function roles({ stage, webhookName, brokerName, runnerNames, jobPolicies }) {
  const managed = jobPolicies.map((policy) =>
    policy === 'sam-deploy' ? { Ref: 'SamDeployJobPolicy' } : policy,
  );
  const role = (/** @type {string} */ name, /** @type {unknown[]} */ statements, extra = {}) => ({
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: `lambda-runner-${stage}-${name}`,
      AssumeRolePolicyDocument: lambdaTrust,
      Policies: [
        { PolicyName: name, PolicyDocument: { Version: '2012-10-17', Statement: statements } },
      ],
      ...extra,
    },
  });
  return {
    // The webhook holds the webhook secret and may hand jobs to the broker: nothing else.
    WebhookRole: role('webhook', [
      logs([webhookName]),
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: lambdaArn(brokerName) },
      ...readSecret('WebhookSecret'),
    ]),
    // The broker: the only role that reads the App's key. It starts runners and keeps its own
    // failed events in its dead-letter queue.
    BrokerRole: role('broker', [
      logs([brokerName]),
      ...readSecret('AppSecret'),
      ...readSecret('WebhookSecret'),
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: runnerNames.map(lambdaArn),
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
    ]),
    // The runner role is the job role: its own logs, delivering its destination records to the
    // broker, and the jobPolicies deploy parameter. No secret, no key, no sts:AssumeRole.
    RunnerRole: role(
      'runner',
      [
        logs(runnerNames),
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: lambdaArn(brokerName) },
      ],
      {
        Description: 'Runner functions and the jobs they run: the jobPolicies deploy parameter',
        ...(managed.length > 0 ? { ManagedPolicyArns: managed } : {}),
      },
    ),
    ...(jobPolicies.includes('sam-deploy')
      ? { SamDeployJobPolicy: samDeployPolicy(stage), JobBoundaryPolicy: jobBoundaryPolicy(stage) }
      : {}),
  };
}

module.exports = { roles, JOB_ROLE_PREFIX };
