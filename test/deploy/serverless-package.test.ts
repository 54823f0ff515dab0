/* eslint-disable @typescript-eslint/no-explicit-any -- generated CloudFormation is untyped JSON; the tests walk it freely */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pack as packStage, packageWorkDir, type Template } from '../support/serverless-package';

const work = packageWorkDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pack = (name: string, args: string[] = [], env: Record<string, string> = {}): Template =>
  packStage(work, name, { args, env }).template;

function byType(template: Template, type: string) {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function statements(template: Template, role: string): Record<string, any>[] {
  return template.Resources[role]!.Properties.Policies.flatMap(
    (policy: any) => policy.PolicyDocument.Statement,
  );
}

const asList = (value: unknown) => (Array.isArray(value) ? value : [value]);

describe('serverless package (default profile)', () => {
  let template: Template;
  beforeAll(() => {
    template = pack('default');
  }, 120_000);

  it('has the webhook function: nodejs22.x, 256 MB, short timeout, its own role, the bundle', () => {
    const webhook = template.Resources.WebhookLambdaFunction!.Properties;
    expect(webhook).toMatchObject({
      FunctionName: 'lambda-runner-citest-webhook',
      Runtime: 'nodejs22.x',
      MemorySize: 256,
      Timeout: 10,
      Handler: 'webhook/index.handler',
      Role: { 'Fn::GetAtt': ['WebhookRole', 'Arn'] },
    });
    expect(webhook.Environment.Variables).toMatchObject({
      WEBHOOK_SECRET_ARN: { Ref: 'WebhookSecret' },
      // Jobs wait in the broker's dispatch queue, not in running functions.
      RUNNER_DISPATCH: 'queue',
      DISPATCH_QUEUE_URL: { Ref: 'DispatchQueue' },
      REQUIRED_LABEL: 'lambda-runner',
      ALLOW_PUBLIC_REPOSITORIES: 'false',
    });
    expect(webhook.Environment.Variables.PRIVATE_KEY).toBeUndefined();
  });

  it('routes POST /api/github/webhooks on an HTTP API to the webhook', () => {
    expect(
      byType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey),
    ).toEqual(['POST /api/github/webhooks']);
    expect(template.Outputs.WebhookUrl.Value['Fn::Join'][1]).toEqual(
      // The partition's own domain (amazonaws.com, amazonaws.com.cn), never a hard-coded one.
      expect.arrayContaining([
        { Ref: 'HttpApi' },
        { Ref: 'AWS::URLSuffix' },
        '/api/github/webhooks',
      ]),
    );
  });

  it('runs each job in a runner version of its own, with the control table and a deployment mark', () => {
    const broker = template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables;
    expect(broker).toMatchObject({
      RUNNER_ISOLATION: 'version',
      RUNNER_ENVIRONMENT_POOL: '2',
      CONTROL_TABLE: { Ref: 'ControlTable' },
      RUNNER_DEPLOYMENT: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(template.Resources.ControlTable!.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('has the runner function: image, 3008 MB, 900 s, 10 GB /tmp, reserved concurrency 10, no secret', () => {
    const runner = template.Resources.RunnerLambdaFunction!.Properties;
    expect(runner).toMatchObject({
      FunctionName: 'lambda-runner-citest-runner-default',
      PackageType: 'Image',
      MemorySize: 3008,
      Timeout: 900,
      EphemeralStorage: { Size: 10240 },
      ReservedConcurrentExecutions: 10,
      Architectures: ['x86_64'],
      Role: { 'Fn::GetAtt': ['RunnerRole', 'Arn'] },
    });
    // Nothing worth stealing: no App id, key, secret ARN or GitHub settings in its environment.
    const names = Object.keys(runner.Environment?.Variables ?? {});
    for (const name of [
      'APP_ID',
      'PRIVATE_KEY',
      'GITHUB_APP_SECRET_ARN',
      'WEBHOOK_SECRET',
      'WEBHOOK_SECRET_ARN',
      'JOB_ROLE_ARN',
      'GHE_HOST',
    ])
      expect(names).not.toContain(name);
  });
  it('names the runner function in the webhook RUNNER_PROFILES, generated from the same list', () => {
    const profiles = JSON.parse(
      template.Resources.WebhookLambdaFunction!.Properties.Environment.Variables.RUNNER_PROFILES,
    );
    expect(profiles).toEqual([
      {
        name: 'default',
        labels: [
          'self-hosted',
          'lambda-runner',
          'linux',
          'x64',
          'aws-cli',
          'sam-cli',
          'python',
          'node',
        ],
        functionName: 'lambda-runner-citest-runner-default',
      },
    ]);
  });

  it('sends every runner end to the settle queue the broker consumes (success and failure), with no retry and 6 h of event age', () => {
    const configs = Object.fromEntries(
      byType(template, 'AWS::Lambda::EventInvokeConfig').map(([, c]) => [
        c.Properties.FunctionName.Ref,
        c.Properties,
      ]),
    );
    expect(configs.RunnerLambdaFunction).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: {
        OnSuccess: { Destination: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] } },
        OnFailure: { Destination: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] } },
      },
    });
    // The broker reads it in bounded batches, keeping what failed; a message that keeps
    // failing goes to the dead-letter queue the schedule replays.
    const mappings = Object.fromEntries(
      byType(template, 'AWS::Lambda::EventSourceMapping').map(([, mapping]) => [
        mapping.Properties.EventSourceArn['Fn::GetAtt'][0],
        mapping.Properties,
      ]),
    );
    // Jobs and runner ends alike: the broker's reserved concurrency (10) split between them.
    expect(Object.keys(mappings).sort()).toEqual(['DispatchQueue', 'SettleQueue']);
    for (const queue of ['DispatchQueue', 'SettleQueue']) {
      expect(mappings[queue]).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['BrokerLambdaFunction', 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
      expect(template.Resources[queue]!.Properties).toMatchObject({
        VisibilityTimeout: 720,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] },
          maxReceiveCount: 10,
        },
      });
    }
    // The broker's own failures, past Lambda's two retries, wait in its dead-letter queue.
    expect(configs.BrokerLambdaFunction).toMatchObject({
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'Arn'] } },
      },
    });
    expect(template.Resources.BrokerDeadLetterQueue!.Type).toBe('AWS::SQS::Queue');
  });
  it('keeps logs 7 days', () => {
    const groups = byType(template, 'AWS::Logs::LogGroup');
    // Three functions and the HTTP API's access log.
    expect(groups.map(([, group]) => group.Properties.LogGroupName)).toContain(
      '/aws/http-api/lambda-runner-citest',
    );
    expect(groups).toHaveLength(4);
    for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(7);
  });

  it('stores the two secrets separately, KMS-encrypted', () => {
    for (const id of ['WebhookSecret', 'AppSecret']) {
      expect(template.Resources[id]).toMatchObject({
        Type: 'AWS::SecretsManager::Secret',
        Properties: { KmsKeyId: { Ref: 'SecretsKey' } },
      });
    }
    expect(template.Resources.AppSecret!.Properties.Name).toBe('lambda-runner/citest/github-app');
    expect(template.Resources.WebhookSecret!.Properties.Name).toBe(
      'lambda-runner/citest/webhook-secret',
    );
  });

  it('gives no wildcard action or resource to the webhook, broker or runner roles (denies aside)', () => {
    for (const role of ['WebhookRole', 'BrokerRole', 'RunnerRole']) {
      for (const statement of statements(template, role).filter((s) => s.Effect === 'Allow')) {
        expect(asList(statement.Action)).not.toContainEqual(expect.stringMatching(/^\*$|:\*$/));
        expect(asList(statement.Resource)).not.toContain('*');
      }
    }
  });
  it('lets only the broker read the App secret; the runner role reads no secret and uses no key', () => {
    const reads = (role: string) =>
      statements(template, role)
        .filter((statement) => asList(statement.Action).includes('secretsmanager:GetSecretValue'))
        .flatMap((statement) => asList(statement.Resource));
    const secret = (name: string) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:lambda-runner/citest/${name}-??????`,
    });
    expect(reads('WebhookRole')).toEqual([secret('webhook-secret')]);
    expect(reads('BrokerRole')).toEqual([secret('github-app'), secret('webhook-secret')]);
    expect(reads('RunnerRole')).toEqual([]);
    // Each secret's own policy names its readers; the key policy lets only them decrypt.
    const readers = (id: string) =>
      template.Resources[id]!.Properties.ResourcePolicy.Statement[0].Condition.StringNotEquals[
        'aws:PrincipalArn'
      ];
    expect(readers('AppSecretReaders')).toEqual([{ 'Fn::GetAtt': ['BrokerRole', 'Arn'] }]);
    expect(readers('WebhookSecretReaders')).toEqual([
      { 'Fn::GetAtt': ['WebhookRole', 'Arn'] },
      { 'Fn::GetAtt': ['BrokerRole', 'Arn'] },
    ]);
    const key = JSON.stringify(template.Resources.SecretsKey);
    expect(key).not.toContain('RunnerRole');
    expect(key).not.toContain('"kms:*"');
  });
  it('lets the webhook and the runner invoke no function, only send to their queue; the broker invoke only the runners', () => {
    // What each role is allowed to invoke (the runner role's deny names what it may not).
    const invokes = (role: string) =>
      JSON.stringify(
        statements(template, role).filter(
          (s) => s.Action === 'lambda:InvokeFunction' && s.Effect === 'Allow',
        ),
      );
    expect(invokes('WebhookRole')).toBe('[]');
    expect(
      statements(template, 'WebhookRole').filter((s) => String(s.Action).startsWith('sqs:')),
    ).toEqual([
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['DispatchQueue', 'Arn'] },
      },
    ]);
    expect(invokes('BrokerRole')).toContain(':function:lambda-runner-citest-runner-default"');
    expect(invokes('RunnerRole')).toBe('[]');
    // It sends its destination records to the settle queue, and may do nothing else with it.
    const send = statements(template, 'RunnerRole').find(
      (s) => s.Sid === 'DeliverDestinationRecords',
    )!;
    expect(send).toMatchObject({
      Effect: 'Allow',
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] },
    });
  });
  it('gives jobs nothing by default', () => {
    expect(template.Resources.RunnerRole!.Properties.ManagedPolicyArns).toBeUndefined();
    expect(template.Resources.JobRole).toBeUndefined();
  });
  it('alarms on errors > 5 in 5 min, throttles > 0, runner duration > 840 s and DLQ depth > 0', () => {
    const alarms = Object.fromEntries(
      byType(template, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => [id, alarm.Properties]),
    );
    expect(alarms.WebhookErrorsAlarm).toMatchObject({
      MetricName: 'Errors',
      Period: 300,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarms.RunnerErrorsAlarm).toMatchObject({
      MetricName: 'Errors',
      Period: 300,
      Threshold: 5,
    });
    expect(alarms.RunnerThrottlesAlarm).toMatchObject({ MetricName: 'Throttles', Threshold: 0 });
    expect(alarms.WebhookThrottlesAlarm).toMatchObject({ MetricName: 'Throttles', Threshold: 0 });
    expect(alarms.RunnerDurationAlarm).toMatchObject({
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Threshold: 840000,
    });
    expect(alarms.DeadLetterQueueAlarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
    });
    // A queued job, or a runner's end, waiting over 10 minutes for a broker.
    for (const queue of ['DispatchQueue', 'SettleQueue'])
      expect(alarms[`${queue}AgeAlarm`]).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Threshold: 600,
      });
    expect(alarms.RunnerAsyncEventAgeAlarm).toMatchObject({ MetricName: 'AsyncEventAge' });
    expect(alarms.RunnerAsyncEventsDroppedAlarm).toMatchObject({
      MetricName: 'AsyncEventsDropped',
    });
    expect(alarms.RunnerDestinationDeliveryFailuresAlarm).toMatchObject({
      MetricName: 'DestinationDeliveryFailures',
    });
    expect(alarms.BrokerScheduleErrorsAlarm).toMatchObject({ MetricName: 'Errors', Threshold: 0 });
    // Without alarmEmail there is no topic, and the alarms notify no one.
    expect(template.Resources.AlarmTopic).toBeUndefined();
    expect(alarms.WebhookErrorsAlarm?.AlarmActions).toEqual([]);
  });

  it('has a dashboard with invocations, errors, duration percentiles, concurrency and throttles', () => {
    const body = JSON.parse(template.Resources.Dashboard!.Properties.DashboardBody);
    const titles = body.widgets.map((widget: any) => widget.properties.title);
    expect(titles).toEqual([
      'Invocations',
      'Errors',
      'Duration p50 / p95 / p99',
      'Concurrent executions',
      'Throttles',
      'Async event age (time jobs waited on capacity)',
      'Broker queues: messages waiting, and the oldest (s)',
    ]);
    expect(JSON.stringify(body)).toContain('"stat":"p99"');
    expect(JSON.stringify(body)).toContain(
      '"AWS/SQS","ApproximateAgeOfOldestMessage","QueueName","lambda-runner-citest-dispatch"',
    );
  });

  it("runs the orphan sweep on the broker's schedule, every 15 minutes", () => {
    expect(template.Resources.BrokerLambdaFunction!.Properties).toMatchObject({
      FunctionName: 'lambda-runner-citest-broker',
      Role: { 'Fn::GetAtt': ['BrokerRole', 'Arn'] },
      Environment: {
        Variables: {
          JANITOR_GRACE_MINUTES: '20',
          // Jobs wait in the queues; every broker spends from one points budget.
          RATE_LIMIT_MAX_SLEEP_SECONDS: '5',
          GITHUB_POINTS_PER_MINUTE: '900',
          GITHUB_APP_SECRET_ARN: { Ref: 'AppSecret' },
          WEBHOOK_SECRET_ARN: { Ref: 'WebhookSecret' },
        },
      },
    });
    const [[, rule]] = byType(template, 'AWS::Events::Rule') as [[string, any]];
    expect(rule.Properties.ScheduleExpression).toBe('rate(15 minutes)');
    // It invokes the broker's schedule alias (no job may), and the broker knows that alias.
    expect(rule.Properties.Targets).toEqual([
      { Arn: { Ref: 'BrokerScheduleAlias' }, Id: 'brokerSchedule' },
    ]);
    expect(template.Resources.BrokerScheduleAlias!.Properties).toMatchObject({
      Name: 'schedule',
      FunctionVersion: '$LATEST',
    });
    expect(template.Resources.BrokerSchedulePermission!.Properties).toMatchObject({
      FunctionName: { Ref: 'BrokerScheduleAlias' },
      Principal: 'events.amazonaws.com',
    });
    expect(
      template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables.SCHEDULE_ALIAS,
    ).toBe('schedule');
    expect(template.Resources.JanitorLambdaFunction).toBeUndefined();
  });
  it('tags resources with the project and stage', () => {
    expect(template.Resources.RunnerLambdaFunction!.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'project', Value: 'lambda-runner' },
        { Key: 'stage', Value: 'citest' },
      ]),
    );
  });
});

describe('serverless package with runner profiles and parameters', () => {
  let template: Template;
  beforeAll(() => {
    const file = path.join(work, 'profiles.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'default', labels: ['self-hosted', 'lambda-runner', 'linux'] },
        {
          name: 'gpu-large',
          labels: ['lambda-runner', 'gpu'],
          scope: 'org',
          group: 'gpu',
          reservedConcurrency: 2,
          memorySize: 10240,
        },
      ]),
    );
    template = pack(
      'profiles',
      [
        '--param=reservedConcurrency=4',
        '--param=jobPolicies=sam-deploy',
        '--param=alarmEmail=ops@example.com',
        '--param=logRetentionDays=14',
        '--param=additionalApps=2',
      ],
      {
        RUNNER_PROFILES_FILE: file,
      },
    );
  }, 120_000);

  it('creates one runner function per profile, with its own settings', () => {
    expect(template.Resources.RunnerLambdaFunction!.Properties).toMatchObject({
      FunctionName: 'lambda-runner-citest-runner-default',
      ReservedConcurrentExecutions: 4,
    });
    expect(template.Resources.RunnerGpuLargeLambdaFunction!.Properties).toMatchObject({
      FunctionName: 'lambda-runner-citest-runner-gpu-large',
      ReservedConcurrentExecutions: 2,
      MemorySize: 10240,
    });
    // The broker registers runners with the profile's scope and group.
    const brokerProfiles = JSON.parse(
      template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables.RUNNER_PROFILES,
    );
    expect(brokerProfiles[1]).toMatchObject({ name: 'gpu-large', scope: 'org', group: 'gpu' });
  });

  it('gives the webhook the matching RUNNER_PROFILES and the broker invoke rights on both functions', () => {
    const profiles = JSON.parse(
      template.Resources.WebhookLambdaFunction!.Properties.Environment.Variables.RUNNER_PROFILES,
    );
    expect(profiles).toEqual([
      {
        name: 'default',
        labels: ['self-hosted', 'lambda-runner', 'linux'],
        functionName: 'lambda-runner-citest-runner-default',
      },
      {
        name: 'gpu-large',
        labels: ['lambda-runner', 'gpu'],
        functionName: 'lambda-runner-citest-runner-gpu-large',
        scope: 'org',
        group: 'gpu',
      },
    ]);
    const invoke = statements(template, 'BrokerRole').find(
      (s) => s.Action === 'lambda:InvokeFunction',
    )!;
    // Each runner function and its versions (one per job), and nothing else.
    expect(JSON.stringify(invoke.Resource)).toMatch(
      /runner-default"[\s\S]*runner-default:\*"[\s\S]*runner-gpu-large"[\s\S]*runner-gpu-large:\*"/,
    );
    expect(asList(invoke.Resource)).toHaveLength(4);
    // Two runners and the broker.
    expect(byType(template, 'AWS::Lambda::EventInvokeConfig')).toHaveLength(3);
  });

  it('attaches the example job policy to the runner (job) role only, bounded', () => {
    expect(template.Resources.RunnerRole!.Properties.ManagedPolicyArns).toEqual([
      { Ref: 'SamDeployJobPolicy' },
    ]);
    expect(template.Resources.SamDeployJobPolicy!.Type).toBe('AWS::IAM::ManagedPolicy');
    const jobPolicy = template.Resources.SamDeployJobPolicy!.Properties.PolicyDocument
      .Statement as any[];
    const sid = (name: string) => jobPolicy.find((statement) => statement.Sid === name);
    // Lambda writes only on job-* functions; roles: pass the stage's job roles, to Lambda only.
    expect(JSON.stringify(sid('WriteJobFunctions').Resource)).toContain('function:job-*');
    expect(sid('PassTheJobFunctionRoleToLambdaOnly')).toMatchObject({
      Action: 'iam:PassRole',
      Resource: {
        'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/lambda-runner/citest/job/*',
      },
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    });
    // No IAM write: a job creates no role, so no principal someone outside could assume.
    const iamActions = jobPolicy
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) => asList(s.Action))
      .filter((action: string) => action.startsWith('iam:'));
    expect(iamActions.sort()).toEqual(['iam:GetRole', 'iam:PassRole']);
    expect(template.Resources.JobFunctionRole!.Properties).toMatchObject({
      Path: '/lambda-runner/citest/job/',
      RoleName: 'lambda-runner-citest-job-function',
    });
    // The job function role and the runner role carry the same deny.
    const deny = (role: string) =>
      statements(template, role).find((statement) => statement.Sid === 'NeverTouchThisStack');
    expect(deny('JobFunctionRole')).toEqual(deny('RunnerRole'));
    for (const own of [
      'role/lambda-runner-citest-*',
      'secret:lambda-runner/citest/*',
      'stack/lambda-runner-citest/*',
      'SecretsKey',
      'ServerlessDeploymentBucket',
      'BrokerDeadLetterQueue',
    ])
      expect(JSON.stringify(deny('RunnerRole'))).toContain(own);
  });

  it('gives each additional App a secret of its own that the broker alone reads, and tells the broker where', () => {
    expect(template.Resources.AppSecret2!.Properties).toMatchObject({
      Name: 'lambda-runner/citest/github-app-2',
      KmsKeyId: { Ref: 'SecretsKey' },
    });
    expect(template.Resources.AppSecret3!.Properties.Name).toBe(
      'lambda-runner/citest/github-app-3',
    );
    expect(template.Resources.AppSecret4).toBeUndefined();
    expect(
      template.Resources.AppSecret3Readers!.Properties.ResourcePolicy.Statement[0].Condition,
    ).toEqual({
      StringNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': ['BrokerRole', 'Arn'] }] },
    });
    expect(
      template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables
        .ADDITIONAL_APP_SECRET_ARNS,
    ).toEqual({ 'Fn::Join': [',', [{ Ref: 'AppSecret2' }, { Ref: 'AppSecret3' }]] });
  });

  it('honours the log retention parameter and the alarm e-mail', () => {
    for (const [, group] of byType(template, 'AWS::Logs::LogGroup'))
      expect(group.Properties.RetentionInDays).toBe(14);
    expect(template.Resources.AlarmSubscription!.Properties.Endpoint).toBe('ops@example.com');
    const [, alarm] = byType(template, 'AWS::CloudWatch::Alarm')[0]!;
    expect(alarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('refuses an invalid profile file with a clear error', () => {
    const bad = path.join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ name: 'Bad Name', labels: [] }]));
    expect(() => pack('bad', [], { RUNNER_PROFILES_FILE: bad })).toThrow(
      /name must be lower-case[\s\S]*labels must be a non-empty array/,
    );
  }, 60_000);
});

describe('serverless package with CodeBuild profiles', () => {
  const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-runner-build@sha256:${'b'.repeat(64)}`;
  const profiles = (list: unknown[]) => {
    const file = path.join(work, `build-profiles-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(list));
    return { RUNNER_PROFILES_FILE: file };
  };
  const lambdaProfile = { name: 'default', labels: ['self-hosted', 'lambda-runner'] };
  const dockerProfile = {
    name: 'docker',
    labels: ['self-hosted', 'lambda-runner', 'docker'],
    executor: 'codebuild',
    computeType: 'BUILD_GENERAL1_LARGE',
    timeoutMinutes: 360,
    docker: true,
  };
  let template: Template;
  beforeAll(() => {
    template = pack(
      'codebuild',
      [`--param=codebuildImageUri=${IMAGE}`],
      profiles([lambdaProfile, dockerProfile]),
    );
  }, 120_000);

  it('makes a privileged project run by the job role, and no runner function, for the Docker profile', () => {
    expect(template.Resources.BuildDockerProject!.Properties).toMatchObject({
      Name: 'lambda-runner-citest-build-docker',
      ServiceRole: { 'Fn::GetAtt': ['RunnerRole', 'Arn'] },
      TimeoutInMinutes: 360,
      Environment: {
        Type: 'LINUX_CONTAINER',
        ComputeType: 'BUILD_GENERAL1_LARGE',
        Image: IMAGE,
        PrivilegedMode: true,
      },
      LogsConfig: {
        CloudWatchLogs: {
          Status: 'ENABLED',
          GroupName: '/aws/codebuild/lambda-runner-citest-build-docker',
        },
      },
    });
    expect(template.Resources.RunnerDockerLambdaFunction).toBeUndefined();
    expect(
      byType(template, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.FunctionName),
    ).not.toContain('lambda-runner-citest-runner-docker');
    // The broker routes the profile to the project, and may start builds of it alone.
    const brokerProfiles = JSON.parse(
      template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables.RUNNER_PROFILES,
    );
    expect(brokerProfiles[1]).toEqual({
      name: 'docker',
      labels: dockerProfile.labels,
      executor: 'codebuild',
      projectName: 'lambda-runner-citest-build-docker',
      computeType: 'BUILD_GENERAL1_LARGE',
      timeoutMinutes: 360,
      docker: true,
    });
    // A build's registration is offline while it waits for a machine: the orphan sweep waits longer.
    expect(template.Resources.BuildDockerProject!.Properties.QueuedTimeoutInMinutes).toBe(30);
    expect(
      template.Resources.BrokerLambdaFunction!.Properties.Environment.Variables
        .JANITOR_GRACE_MINUTES,
    ).toBe('50');
    const start = statements(template, 'BrokerRole').find((s) => s.Sid === 'StartRunnerBuilds')!;
    expect(start.Action).toBe('codebuild:StartBuild');
    expect(JSON.stringify(start.Resource)).toContain('project/lambda-runner-citest-build-docker');
  });

  it("sends each build's end to the settle queue, and alarms on failed and long-queued builds", () => {
    expect(template.Resources.BuildStateRule!.Properties).toMatchObject({
      EventPattern: {
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: { 'project-name': ['lambda-runner-citest-build-docker'] },
      },
      Targets: [{ Arn: { 'Fn::GetAtt': ['SettleQueue', 'Arn'] }, Id: 'settleQueue' }],
    });
    // EventBridge may send that rule's events to the settle queue.
    const [statement] = template.Resources.BuildStateQueuePolicy!.Properties.PolicyDocument
      .Statement as Record<string, any>[];
    expect(statement).toMatchObject({
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['BuildStateRule', 'Arn'] } } },
    });
    expect(template.Resources.BuildDockerFailedAlarm!.Properties).toMatchObject({
      Namespace: 'AWS/CodeBuild',
      MetricName: 'FailedBuilds',
    });
    expect(template.Resources.BuildDockerQueuedAlarm!.Properties).toMatchObject({
      MetricName: 'QueuedDuration',
      Threshold: 300,
    });
  });

  it('refuses bad CodeBuild profiles by name: compute, timeout, Docker off EC2, Lambda-only fields', () => {
    const bad = profiles([
      lambdaProfile,
      { ...dockerProfile, name: 'a', computeType: 'BUILD_GENERAL9_HUGE' },
      { ...dockerProfile, name: 'b', timeoutMinutes: 481 },
      { ...dockerProfile, name: 'c', computeType: 'BUILD_LAMBDA_4GB', timeoutMinutes: 15 },
      {
        ...dockerProfile,
        name: 'd',
        docker: false,
        computeType: 'BUILD_LAMBDA_2GB',
        timeoutMinutes: 30,
      },
      { ...dockerProfile, name: 'e', memorySize: 2048 },
      { ...lambdaProfile, name: 'f', docker: true },
    ]);
    let message = '';
    try {
      pack('bad-build', [`--param=codebuildImageUri=${IMAGE}`], bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('profile 1: computeType must be one of');
    expect(message).toContain(
      'profile 2: timeoutMinutes must be a whole number from 5 to 480 on EC2 compute',
    );
    expect(message).toContain('profile 3: docker needs EC2 compute');
    expect(message).toContain(
      'profile 4: timeoutMinutes must be a whole number from 5 to 15 on Lambda compute',
    );
    expect(message).toContain('profile 5: memorySize is for Lambda profiles');
    expect(message).toContain('profile 6: docker is for executor "codebuild" profiles');
  }, 60_000);
});
