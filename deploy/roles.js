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

/**
 * The example job policy (`--param="jobPolicies=sam-deploy"`): what a job needs to deploy a SAM
 * application. It belongs to the job role only, never to the webhook or runner roles.
 */
const samDeployPolicy = {
  Type: 'AWS::IAM::ManagedPolicy',
  Properties: {
    Description: 'lambda-runner example job policy: deploy SAM applications',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['cloudformation:*', 'lambda:*', 's3:*', 'apigateway:*', 'dynamodb:*'],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'iam:CreateRole',
            'iam:DeleteRole',
            'iam:GetRole',
            'iam:PassRole',
            'iam:TagRole',
            'iam:UntagRole',
            'iam:AttachRolePolicy',
            'iam:DetachRolePolicy',
            'iam:PutRolePolicy',
            'iam:GetRolePolicy',
            'iam:DeleteRolePolicy',
          ],
          Resource: '*',
        },
      ],
    },
  },
};

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
              Principal: { AWS: { 'Fn::GetAtt': ['RunnerRole', 'Arn'] } },
              Action: 'sts:AssumeRole',
            },
          ],
        },
        ...(managed.length > 0 ? { ManagedPolicyArns: managed } : {}),
      },
    },
    ...(jobPolicies.includes('sam-deploy') ? { SamDeployJobPolicy: samDeployPolicy } : {}),
  };
}

module.exports = { roles };
