// @ts-check
'use strict';
// The explicit deny every role a job can hold carries: the runner role (the job role) and the
// role jobs may give their own functions. An explicit deny wins over any allow, so whatever
// `jobPolicies` attaches (PowerUserAccess included), a job can never touch what this stack is
// made of: swap the broker's code and read the App key, rewrite the key policy, replace the
// packaged template before a rollback, drain or feed the dead-letter queue, reset the control
// table's counts, or change the API.
// It leaves the one call the runner needs: sending its destination records to the settle queue.
// No job may invoke any function of the stack, the broker included.

/**
 * @typedef {{ stage: string, webhookName: string, brokerName: string, runnerNames: string[], alarmTopic: boolean,
 *   httpApiAccessLogGroup: string }} GuardInput
 */

const sub = (/** @type {string} */ text) => ({ 'Fn::Sub': text });
const regional = (/** @type {string} */ service, /** @type {string} */ rest) =>
  sub(`arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${rest}`);
/** A function and its versions and aliases. @param {string} name */
const functionArns = (name) => [
  regional('lambda', `function:${name}`),
  regional('lambda', `function:${name}:*`),
];
/** A log group and everything in it. @param {string} name */
const logGroupArns = (name) => [
  regional('logs', `log-group:${name}`),
  regional('logs', `log-group:${name}:*`),
];

/** @param {GuardInput} input */
function stackResources({ stage, alarmTopic, httpApiAccessLogGroup }) {
  return [
    sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/lambda-runner-${stage}-*`),
    regional('secretsmanager', `secret:lambda-runner/${stage}/*`),
    regional('cloudformation', `stack/lambda-runner-${stage}/*`),
    { 'Fn::GetAtt': ['SecretsKey', 'Arn'] },
    sub('arn:${AWS::Partition}:s3:::${ServerlessDeploymentBucket}'),
    sub('arn:${AWS::Partition}:s3:::${ServerlessDeploymentBucket}/*'),
    { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] },
    { 'Fn::GetAtt': ['DispatchQueue', 'Arn'] },
    { 'Fn::GetAtt': ['ControlTable', 'Arn'] },
    ...(alarmTopic ? [{ Ref: 'AlarmTopic' }] : []),
    ...logGroupArns(`/aws/lambda/lambda-runner-${stage}-webhook`),
    ...logGroupArns(`/aws/lambda/lambda-runner-${stage}-broker`),
    ...logGroupArns(httpApiAccessLogGroup),
    sub('arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/${HttpApi}'),
    sub('arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/${HttpApi}/*'),
    { 'Fn::GetAtt': ['BrokerScheduleRule', 'Arn'] },
  ];
}

/**
 * The deny statements.
 * @param {GuardInput} input
 */
function stackGuard(input) {
  return [
    {
      Sid: 'NeverTouchThisStack',
      Effect: 'Deny',
      Action: '*',
      Resource: stackResources(input),
    },
    {
      // Every stage's functions, brokers included: a job neither changes nor invokes them (the
      // broker's events come from the settle queue and its schedule, never from a job).
      Sid: 'NeverTouchLambdaRunnerFunctions',
      Effect: 'Deny',
      Action: 'lambda:*',
      Resource: functionArns('lambda-runner-*'),
    },
    {
      // The settle queue: a job may send to it (the runner's destination records) and nothing
      // more; reading, deleting or purging would take runners' ends from the broker.
      Sid: 'OnlySendToTheSettleQueue',
      Effect: 'Deny',
      NotAction: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] },
    },
    {
      // A build's variables carry its one-use runner credential (BatchGetBuilds shows them), and
      // only the broker starts builds: no job reads, starts, stops or changes a runner build.
      Sid: 'NeverTouchRunnerBuilds',
      Effect: 'Deny',
      Action: 'codebuild:*',
      Resource: [
        regional('codebuild', 'project/lambda-runner-*'),
        regional('codebuild', 'build/lambda-runner-*'),
      ],
    },
    {
      // A mapping onto the broker would drain its dead-letter queue or feed it events.
      Sid: 'NoEventSourceOntoLambdaRunner',
      Effect: 'Deny',
      Action: ['lambda:CreateEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
      Resource: '*',
      Condition: {
        ArnLike: { 'lambda:FunctionArn': functionArns('lambda-runner-*') },
      },
    },
  ];
}

module.exports = { stackGuard };
