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

/**
 * @param {{ stage: string, webhookName: string, runnerNames: string[], jobPolicies: string[] }} options
 */
function roles({ stage, webhookName, runnerNames, jobPolicies }) {
  const managed = jobPolicies.map((policy) =>
    policy === 'sam-deploy' ? { Ref: 'SamDeployJobPolicy' } : policy,
  );
  return {
    WebhookRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `lambda-runner-${stage}-webhook`,
        AssumeRolePolicyDocument: lambdaTrust,
        Policies: [
          {
            PolicyName: 'webhook',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                logs([webhookName]),
                {
                  Effect: 'Allow',
                  Action: 'lambda:InvokeFunction',
                  Resource: runnerNames.map((name) => ({
                    'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${name}`,
                  })),
                },
                ...readSecret('WebhookSecret'),
              ],
            },
          },
        ],
      },
    },
    RunnerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `lambda-runner-${stage}-runner`,
        AssumeRolePolicyDocument: lambdaTrust,
        Policies: [
          {
            PolicyName: 'runner',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                logs(runnerNames),
                ...readSecret('AppSecret'),
                // The on-failure destination is sent with the function's own role.
                {
                  Effect: 'Allow',
                  Action: 'sqs:SendMessage',
                  Resource: { 'Fn::GetAtt': ['RunnerDeadLetterQueue', 'Arn'] },
                },
                // Jobs get the job role's credentials, not this role's (which can read the App key).
                {
                  Effect: 'Allow',
                  Action: 'sts:AssumeRole',
                  Resource: { 'Fn::GetAtt': ['JobRole', 'Arn'] },
                },
              ],
            },
          },
        ],
      },
    },
    JanitorRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `lambda-runner-${stage}-janitor`,
        AssumeRolePolicyDocument: lambdaTrust,
        Policies: [
          {
            PolicyName: 'janitor',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [logs([`lambda-runner-${stage}-janitor`]), ...readSecret('AppSecret')],
            },
          },
        ],
      },
    },
    JobRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `lambda-runner-${stage}-job`,
        Description: 'What jobs on lambda-runner may do in AWS: the jobPolicies deploy parameter',
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: {
                // By name, not GetAtt: the runner role's policy already takes this role's ARN,
                // and two GetAtts between them would be a dependency cycle CloudFormation refuses.
                AWS: {
                  'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/lambda-runner-${stage}-runner`,
                },
              },
              Action: 'sts:AssumeRole',
            },
          ],
        },
        ...(managed.length > 0 ? { ManagedPolicyArns: managed } : {}),
      },
    },
    ...(jobPolicies.includes('sam-deploy')
      ? { SamDeployJobPolicy: samDeployPolicy(stage), JobBoundaryPolicy: jobBoundaryPolicy(stage) }
      : {}),
  };
}

module.exports = { roles, JOB_ROLE_PREFIX };
