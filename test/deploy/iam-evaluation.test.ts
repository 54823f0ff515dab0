/* eslint-disable @typescript-eslint/no-explicit-any -- policy documents are untyped JSON */
// What a hostile job holding the runner role can do, decided by an IAM policy simulator over the
// packaged templates: identity policies, boundaries and the secrets', key's and bucket's own
// policies together. The table is DEPLOYMENT.md's, row for row.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  ACCOUNT,
  REGION,
  Stack,
  evaluate,
  stackRole,
  type Decision,
  type Request,
} from '../support/iam-evaluation';
import { pack, packageWorkDir, root, type Template } from '../support/serverless-package';

const work = packageWorkDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const STAGE = 'iameval';
const POWER_USER = 'arn:aws:iam::aws:policy/PowerUserAccess';
const managed = {
  [POWER_USER]: JSON.parse(
    readFileSync(path.join(__dirname, 'fixtures/power-user-access.json'), 'utf8'),
  ),
};
const VARIANTS = [
  { column: 'no jobPolicies', args: [] as string[] },
  // With a second App: its secret is read like the first's.
  { column: 'sam-deploy', args: ['--param=jobPolicies=sam-deploy', '--param=additionalApps=1'] },
  { column: 'PowerUserAccess', args: [`--param=jobPolicies=${POWER_USER}`] },
];

const templates = new Map<string, Template>();
beforeAll(() => {
  for (const { column, args } of VARIANTS)
    templates.set(column, pack(work, column.replace(/\W/g, ''), { args, stage: STAGE }).template);
}, 240_000);

const regional = (service: string, rest: string) =>
  `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;
const fn = (name: string) => regional('lambda', `function:${name}`);
const own = (suffix: string) => `lambda-runner-${STAGE}-${suffix}`;
const role = (pathAndName: string) => `arn:aws:iam::${ACCOUNT}:role/${pathAndName}`;

/** The rows: what the job tries, against which resource of the packaged stack. */
function rows(stack: Stack): [string, Request][] {
  const bucket = `arn:aws:s3:::${stack.ref('ServerlessDeploymentBucket')}`;
  const api = `arn:aws:apigateway:${REGION}::/apis/${stack.ref('HttpApi')}`;
  const key = stack.arn('SecretsKey');
  const dlq = stack.arn('BrokerDeadLetterQueue');
  const viaSecretsManager = {
    'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
    'kms:CallerAccount': ACCOUNT,
  };
  return [
    [
      'read the App key',
      { action: 'secretsmanager:GetSecretValue', resource: stack.ref('AppSecret') },
    ],
    [
      'read the webhook secret',
      { action: 'secretsmanager:GetSecretValue', resource: stack.ref('WebhookSecret') },
    ],
    ['decrypt with the secrets key', { action: 'kms:Decrypt', resource: key }],
    [
      'decrypt with the secrets key through Secrets Manager',
      { action: 'kms:Decrypt', resource: key, context: viaSecretsManager },
    ],
    ['rewrite the key policy', { action: 'kms:PutKeyPolicy', resource: key }],
    [
      "change the webhook's code",
      { action: 'lambda:UpdateFunctionCode', resource: fn(own('webhook')) },
    ],
    [
      "change the webhook's configuration",
      { action: 'lambda:UpdateFunctionConfiguration', resource: fn(own('webhook')) },
    ],
    [
      "change the broker's code",
      { action: 'lambda:UpdateFunctionCode', resource: fn(own('broker')) },
    ],
    [
      "change the broker's configuration",
      { action: 'lambda:UpdateFunctionConfiguration', resource: fn(own('broker')) },
    ],
    [
      "change another stage's broker",
      { action: 'lambda:UpdateFunctionCode', resource: fn('lambda-runner-prod-broker') },
    ],
    [
      "configure another stage's broker",
      { action: 'lambda:UpdateFunctionConfiguration', resource: fn('lambda-runner-prod-broker') },
    ],
    ['invoke the webhook', { action: 'lambda:InvokeFunction', resource: fn(own('webhook')) }],
    [
      "invoke a runner version (another job's environment)",
      { action: 'lambda:InvokeFunction', resource: fn(`${own('runner-default')}:42`) },
    ],
    [
      "invoke the broker's schedule alias",
      { action: 'lambda:InvokeFunction', resource: fn(`${own('broker')}:schedule`) },
    ],
    [
      'publish a runner version',
      { action: 'lambda:PublishVersion', resource: fn(own('runner-default')) },
    ],
    [
      'write to the deployment bucket',
      {
        action: 's3:PutObject',
        resource: `${bucket}/serverless/lambda-runner/compiled-cloudformation-template.json`,
      },
    ],
    ['purge the dead-letter queue', { action: 'sqs:PurgeQueue', resource: dlq }],
    ['send to the dead-letter queue', { action: 'sqs:SendMessage', resource: dlq }],
    [
      "read a runner build's variables (another job's runner credential)",
      {
        action: 'codebuild:BatchGetBuilds',
        resource: regional('codebuild', `project/${own('build-docker')}`),
      },
    ],
    [
      'start a runner build',
      {
        action: 'codebuild:StartBuild',
        resource: regional('codebuild', `project/${own('build-docker')}`),
      },
    ],
    [
      "reset the control table's counts",
      { action: 'dynamodb:DeleteItem', resource: stack.arn('ControlTable') },
    ],
    [
      "delete the broker's log group",
      {
        action: 'logs:DeleteLogGroup',
        resource: regional('logs', `log-group:/aws/lambda/${own('broker')}`),
      },
    ],
    [
      "change the HTTP API's stage (throttling, access log)",
      { action: 'apigateway:PATCH', resource: `${api}/stages/$default`, outsideCatalogue: true },
    ],
    [
      "delete the HTTP API's integration",
      {
        action: 'apigateway:DELETE',
        resource: `${api}/integrations/i1j2k3`,
        outsideCatalogue: true,
      },
    ],
    [
      "disable the broker's schedule",
      { action: 'events:DisableRule', resource: stack.arn('BrokerScheduleRule') },
    ],
    [
      'map events onto the broker',
      {
        action: 'lambda:CreateEventSourceMapping',
        resource: '*',
        context: { 'lambda:FunctionArn': fn(own('broker')) },
      },
    ],
    [
      'create a role (any trust, an outside account included)',
      { action: 'iam:CreateRole', resource: role(`lambda-runner/${STAGE}/job/outside`) },
    ],
    [
      'attach a policy to its own role',
      { action: 'iam:AttachRolePolicy', resource: role(own('runner')) },
    ],
    [
      'put an inline policy on its own role',
      { action: 'iam:PutRolePolicy', resource: role(own('runner')) },
    ],
    [
      'pass its own role',
      {
        action: 'iam:PassRole',
        resource: role(own('runner')),
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
    ],
    [
      'update this stack',
      {
        action: 'cloudformation:UpdateStack',
        resource: regional('cloudformation', `stack/lambda-runner-${STAGE}/0a1b2c3d`),
      },
    ],
    ['invoke the broker', { action: 'lambda:InvokeFunction', resource: fn(own('broker')) }],
    [
      "invoke another stage's broker",
      { action: 'lambda:InvokeFunction', resource: fn('lambda-runner-prod-broker') },
    ],
    [
      "read the settle queue (take runners' ends from the broker)",
      { action: 'sqs:ReceiveMessage', resource: stack.arn('SettleQueue') },
    ],
    ['purge the settle queue', { action: 'sqs:PurgeQueue', resource: stack.arn('SettleQueue') }],
    [
      'send to the dispatch queue (queue jobs of its own)',
      { action: 'sqs:SendMessage', resource: stack.arn('DispatchQueue') },
    ],
    [
      'purge the dispatch queue (drop waiting jobs)',
      { action: 'sqs:PurgeQueue', resource: stack.arn('DispatchQueue') },
    ],
    [
      'send to the settle queue (destination records)',
      { action: 'sqs:SendMessage', resource: stack.arn('SettleQueue') },
    ],
    [
      'write its own logs',
      {
        action: 'logs:PutLogEvents',
        resource: regional(
          'logs',
          `log-group:/aws/lambda/${own('runner-default')}:log-stream:2026/12/02/abc`,
        ),
      },
    ],
    ['deploy a job-* function', { action: 'lambda:UpdateFunctionCode', resource: fn('job-app') }],
    [
      'pass the job function role to Lambda',
      {
        action: 'iam:PassRole',
        resource: role(`lambda-runner/${STAGE}/job/${own('job-function')}`),
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
    ],
    [
      'create a stack of its own',
      {
        action: 'cloudformation:CreateStack',
        resource: regional('cloudformation', 'stack/job-app/4e5f6a7b'),
      },
    ],
    [
      'write to a bucket of its own',
      { action: 's3:PutObject', resource: 'arn:aws:s3:::job-artifacts/app.zip' },
    ],
  ];
}

const ALWAYS_ALLOWED = ['send to the settle queue (destination records)', 'write its own logs'];
/** What jobPolicies exist for: work on the job's own resources. */
const JOB_WORK = [
  'deploy a job-* function',
  'pass the job function role to Lambda',
  'create a stack of its own',
  'write to a bucket of its own',
];

const word = (decision: Decision) => (decision === 'Allowed' ? 'allowed' : 'denied');

/** The table as DEPLOYMENT.md writes it: row label → the decision in each column. */
function documentedTable(): Map<string, string[]> {
  const doc = readFileSync(path.join(root, 'docs/DEPLOYMENT.md'), 'utf8');
  const start = doc.indexOf('<!-- iam-evaluation-table -->');
  if (start < 0) throw new Error('DEPLOYMENT.md has no <!-- iam-evaluation-table --> marker');
  const table = new Map<string, string[]>();
  for (const line of doc.slice(start).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (table.size > 0) break;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    if (cells[0] === 'A job tries to' || /^-+$/.test(cells[0] ?? '')) continue;
    table.set(cells[0]!.replace(/`/g, ''), cells.slice(1));
  }
  return table;
}

async function evaluatedTable(): Promise<Map<string, string[]>> {
  const table = new Map<string, string[]>();
  for (const { column } of VARIANTS) {
    const stack = new Stack(templates.get(column)!);
    const runner = stackRole(stack, 'RunnerRole', managed);
    for (const [label, request] of rows(stack)) {
      const decisions = table.get(label) ?? [];
      decisions.push(word(await evaluate(stack, runner, request)));
      table.set(label, decisions);
    }
  }
  return table;
}

describe('the runner (job) role, evaluated', () => {
  let evaluated: Map<string, string[]>;
  beforeAll(async () => {
    evaluated = await evaluatedTable();
  }, 60_000);

  it('reaches none of the stack and the App key in every variant', () => {
    const mustBeDenied = [...evaluated.keys()].filter(
      (label) => !ALWAYS_ALLOWED.includes(label) && !JOB_WORK.includes(label),
    );
    expect(mustBeDenied).toHaveLength(37);
    for (const label of mustBeDenied)
      expect([label, evaluated.get(label)]).toEqual([label, ['denied', 'denied', 'denied']]);
  });

  it('may always send its destination records to the settle queue and write its own logs', () => {
    for (const label of ALWAYS_ALLOWED)
      expect([label, evaluated.get(label)]).toEqual([label, ['allowed', 'allowed', 'allowed']]);
  });

  it('deploys applications under sam-deploy, and nothing of the sort without jobPolicies', () => {
    expect(evaluated.get('deploy a job-* function')).toEqual(['denied', 'allowed', 'allowed']);
    // PowerUserAccess grants no IAM: the pre-created role cannot be passed under it.
    expect(evaluated.get('pass the job function role to Lambda')).toEqual([
      'denied',
      'allowed',
      'denied',
    ]);
    expect(evaluated.get('create a stack of its own')).toEqual(['denied', 'allowed', 'allowed']);
    expect(evaluated.get('write to a bucket of its own')).toEqual(['denied', 'allowed', 'allowed']);
  });

  it('is the table DEPLOYMENT.md shows, row for row', () => {
    expect(documentedTable()).toEqual(evaluated);
  });
});

describe('who reads the secrets', () => {
  it('is the broker for the App keys (the first and a second App), the webhook and the broker for the webhook secret, and no one else', async () => {
    const stack = new Stack(templates.get('sam-deploy')!);
    // A role of the account that may do everything, as broad identity policies go.
    const everything = {
      arn: role('deploy-everything'),
      policies: [
        {
          name: 'all',
          policy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
          },
        },
      ],
    };
    const read = (secret: string): Request => ({
      action: 'secretsmanager:GetSecretValue',
      resource: stack.ref(secret),
    });
    const decrypt: Request = {
      action: 'kms:Decrypt',
      resource: stack.arn('SecretsKey'),
      context: {
        'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
        'kms:CallerAccount': ACCOUNT,
      },
    };
    const who = {
      broker: stackRole(stack, 'BrokerRole'),
      webhook: stackRole(stack, 'WebhookRole'),
      runner: stackRole(stack, 'RunnerRole'),
      'job function': stackRole(stack, 'JobFunctionRole'),
      everything,
    };
    const decisions: Record<string, string[]> = {};
    for (const [name, principal] of Object.entries(who))
      decisions[name] = [
        word(await evaluate(stack, principal, read('AppSecret'))),
        word(await evaluate(stack, principal, read('AppSecret2'))),
        word(await evaluate(stack, principal, read('WebhookSecret'))),
        word(await evaluate(stack, principal, { ...decrypt, context: decrypt.context })),
      ];
    expect(decisions).toEqual({
      broker: ['allowed', 'allowed', 'allowed', 'allowed'],
      webhook: ['denied', 'denied', 'allowed', 'allowed'],
      runner: ['denied', 'denied', 'denied', 'denied'],
      'job function': ['denied', 'denied', 'denied', 'denied'],
      // It may decrypt through Secrets Manager (storing a value needs that), never read a value.
      everything: ['denied', 'denied', 'denied', 'allowed'],
    });
  });
});

describe('who writes the control table', () => {
  it("the webhook writes our jobs' states and nothing else of it; the runner nothing at all", async () => {
    const stack = new Stack(templates.get('sam-deploy')!);
    const write = (action: string, leadingKey: string): Request => ({
      action,
      resource: stack.arn('ControlTable'),
      context: { 'dynamodb:LeadingKeys': [leadingKey] },
    });
    const requests: [string, Request][] = [
      ["record a job's state", write('dynamodb:UpdateItem', 'job#acme/app#1001')],
      ["raise a job's start count", write('dynamodb:UpdateItem', 'attempt#acme/app#1001#1')],
      ['move the shared GitHub pace', write('dynamodb:UpdateItem', 'pace#installation-77')],
      ['read a job state', write('dynamodb:GetItem', 'job#acme/app#1001')],
      ['delete a job state', write('dynamodb:DeleteItem', 'job#acme/app#1001')],
    ];
    const who = {
      webhook: stackRole(stack, 'WebhookRole'),
      broker: stackRole(stack, 'BrokerRole'),
      runner: stackRole(stack, 'RunnerRole'),
    };
    const decisions: Record<string, string[]> = {};
    for (const [name, principal] of Object.entries(who)) {
      decisions[name] = [];
      for (const [, request] of requests)
        decisions[name]!.push(word(await evaluate(stack, principal, request)));
    }
    expect(decisions).toEqual({
      webhook: ['allowed', 'denied', 'denied', 'denied', 'denied'],
      broker: ['allowed', 'allowed', 'allowed', 'allowed', 'allowed'],
      runner: ['denied', 'denied', 'denied', 'denied', 'denied'],
    });
  });
});

describe('a planted fault', () => {
  const GUARD = new Set([
    'NeverTouchThisStack',
    'NeverTouchLambdaRunnerFunctions',
    'OnlySendToTheSettleQueue',
    'NoEventSourceOntoLambdaRunner',
    'NeverTouchRunnerBuilds',
  ]);
  /** The PowerUserAccess template with the runner role's deny taken out (and, if asked, the secrets' policies). */
  function weakened(withoutSecretPolicies: boolean): Stack {
    const template = structuredClone(templates.get('PowerUserAccess')!);
    for (const policy of template.Resources.RunnerRole!.Properties.Policies as any[])
      policy.PolicyDocument.Statement = policy.PolicyDocument.Statement.filter(
        (statement: any) => !GUARD.has(statement.Sid),
      );
    if (withoutSecretPolicies) {
      delete template.Resources.AppSecretReaders;
      delete template.Resources.WebhookSecretReaders;
    }
    return new Stack(template);
  }
  const decide = async (stack: Stack, label: string) => {
    const request = rows(stack).find(([name]) => name === label)![1];
    return evaluate(stack, stackRole(stack, 'RunnerRole', managed), request);
  };

  it('without the deny, PowerUserAccess reaches the broker, the bucket, the queue and the stack', async () => {
    const stack = weakened(false);
    for (const label of [
      "change the broker's code",
      'write to the deployment bucket',
      'purge the dead-letter queue',
      'update this stack',
      'map events onto the broker',
      "change the HTTP API's stage (throttling, access log)",
      "disable the broker's schedule",
      "reset the control table's counts",
      "read a runner build's variables (another job's runner credential)",
      'start a runner build',
      'invoke the broker',
      "read the settle queue (take runners' ends from the broker)",
      'purge the dispatch queue (drop waiting jobs)',
    ])
      expect([label, await decide(stack, label)]).toEqual([label, 'Allowed']);
    // The secrets' own policies still hold: reading the App key is refused by them alone.
    expect(await decide(stack, 'read the App key')).toBe('ExplicitlyDenied');
  });

  it('without the deny and the secrets policies, the App key is readable', async () => {
    expect(await decide(weakened(true), 'read the App key')).toBe('Allowed');
  });
});

describe('CodeBuild runner builds, evaluated in a stage with a codebuild profile', () => {
  it('the broker alone starts builds; no job reads their variables or starts one, PowerUserAccess or not', async () => {
    const profiles = path.join(__dirname, 'fixtures/codebuild-profiles.json');
    const { template } = pack(work, 'codebuild', {
      args: [`--param=jobPolicies=${POWER_USER}`],
      env: { RUNNER_PROFILES_FILE: profiles },
      stage: STAGE,
    });
    const stack = new Stack(template);
    const project = regional('codebuild', `project/${own('build-docker')}`);
    const who = {
      broker: stackRole(stack, 'BrokerRole'),
      runner: stackRole(stack, 'RunnerRole', managed),
    };
    const decisions: Record<string, string[]> = {};
    for (const [name, principal] of Object.entries(who))
      decisions[name] = await Promise.all(
        ['codebuild:StartBuild', 'codebuild:BatchGetBuilds', 'codebuild:StopBuild'].map(
          async (action) => word(await evaluate(stack, principal, { action, resource: project })),
        ),
      );
    expect(decisions).toEqual({
      broker: ['allowed', 'denied', 'denied'],
      runner: ['denied', 'denied', 'denied'],
    });
    // The project runs its builds with the job role, which CodeBuild may assume for this account.
    expect(template.Resources.BuildDockerProject?.Properties?.ServiceRole).toEqual({
      'Fn::GetAtt': ['RunnerRole', 'Arn'],
    });
  }, 120_000);
});
