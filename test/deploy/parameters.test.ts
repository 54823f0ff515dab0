/* eslint-disable @typescript-eslint/no-require-imports -- the deploy modules are CommonJS, loaded as serverless loads them */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pack, packageWorkDir, root } from '../support/serverless-package';

const { resolveParameters } = require('../../deploy/parameters') as {
  resolveParameters: (given: Record<string, string>) => Record<string, string>;
};

const work = packageWorkDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const digest = `sha256:${'b'.repeat(64)}`;
const image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-runner@${digest}`;

describe('deploy parameters: each bad value is refused by name with what is allowed', () => {
  it.each([
    ['reservedConcurrency', '0', /reservedConcurrency="0": must be a whole number from 1 to 900/],
    ['reservedConcurrency', 'ten', /from 1 to 900/],
    ['logRetentionDays', '10', /logRetentionDays="10": must be one of 1, 3, 5, 7, 14/],
    [
      'maximumEventAgeSeconds',
      '59',
      /maximumEventAgeSeconds="59": must be a whole number from 60 to 21600/,
    ],
    ['maximumEventAgeSeconds', '21601', /from 60 to 21600/],
    ['runnerScope', 'enterprise', /runnerScope="enterprise": must be one of repo, org/],
    ['logLevel', 'verbose', /logLevel="verbose": must be one of trace, debug, info/],
    ['allowPublicRepositories', 'yes', /allowPublicRepositories="yes": must be one of true, false/],
    ['runnerRegistration', 'pat', /must be one of jit, token/],
    ['requiredLabel', '', /requiredLabel="": must be one label/],
    ['runnerLabels', ',,,', /runnerLabels=",,,": must list at least one item/],
    [
      'allowedRepositories',
      'acme',
      /allowedRepositories="acme": has bad items: acme \(must be owner\/repo\)/,
    ],
    ['jobPolicies', 'AdministratorAccess', /jobPolicies="AdministratorAccess": has bad items/],
    ['alarmEmail', 'ops', /alarmEmail="ops": must be an e-mail address/],
    [
      'runnerImageUri',
      'repo:latest',
      /runnerImageUri="repo:latest": must be an ECR image pinned by digest/,
    ],
    [
      'codebuildImageUri',
      'build:latest',
      /codebuildImageUri="build:latest": must be an ECR image pinned by digest/,
    ],
    [
      'buildQueuedAlarmMinutes',
      '0',
      /buildQueuedAlarmMinutes="0": must be a whole number from 1 to 480/,
    ],
    ['runnerVersion', 'latest', /runnerVersion="latest": must be a release version .*never latest/],
    ['runnerAllowStale', 'yes', /runnerAllowStale="yes": must be one of false, true/],
    ['additionalApps', '5', /additionalApps="5": must be a whole number from 0 to 4/],
    ['baseImageDigest', 'nodejs:22', /baseImageDigest="nodejs:22": must be sha256/],
    ['gheHost', 'https://ghe', /gheHost="https:\/\/ghe": must be a host name/],
    ['gheHost', 'ghe.example.com:99999', /gheHost=.*optional :port from 1 to 65535/],
    ['gheHost', 'ghe.example.com:0', /optional :port from 1 to 65535/],
    ['gheProtocol', 'ftp', /must be one of https, http/],
    [
      'jobPolicies',
      Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`).join(','),
      /jobPolicies=.*names 11 policies: a role takes at most 10 managed policies/,
    ],
    [
      'webhookReservedConcurrency',
      '0',
      /webhookReservedConcurrency="0": must be a whole number from 1 to 100/,
    ],
    [
      'brokerReservedConcurrency',
      '101',
      /brokerReservedConcurrency="101": must be a whole number from 1 to 100/,
    ],
    [
      'apiThrottleRateLimit',
      '0',
      /apiThrottleRateLimit="0": must be a whole number from 1 to 10000/,
    ],
    [
      'apiThrottleBurstLimit',
      '5001',
      /apiThrottleBurstLimit="5001": must be a whole number from 1 to 5000/,
    ],
    ['allowedOwnrs', 'acme', /allowedOwnrs: unknown parameter; known: reservedConcurrency/],
  ])('%s=%j', (name, value, message) => {
    expect(() => resolveParameters({ [name]: value })).toThrow(message);
  });

  it('reports every bad parameter in one error', () => {
    expect(() => resolveParameters({ logLevel: 'verbose', runnerScope: 'x' })).toThrow(
      /bad deploy parameters:\n {2}- runnerScope="x".*\n {2}- logLevel="verbose"/,
    );
  });

  it.each([
    ['reservedConcurrency', '1'],
    ['reservedConcurrency', '900'],
    ['logRetentionDays', '3653'],
    ['maximumEventAgeSeconds', '60'],
    ['runnerScope', 'org'],
    ['jobPolicies', 'sam-deploy,arn:aws:iam::aws:policy/ReadOnlyAccess'],
    ['runnerImageUri', image],
    ['gheHost', 'ghe.example.com:8443'],
  ])('accepts %s=%j', (name, value) => {
    expect(resolveParameters({ [name]: value })[name]).toBe(value);
  });
});

describe('good values land in the template', () => {
  it('GHES, allow lists, registration, scope, log level, event age and a pushed image', () => {
    const { template } = pack(work, 'good', {
      args: [
        '--param=gheHost=ghe.example.com',
        '--param=gheProtocol=http',
        '--param=allowedOwners=acme,umbrella',
        '--param=runnerRegistration=token',
        '--param=runnerScope=org',
        '--param=logLevel=debug',
        '--param=maximumEventAgeSeconds=3600',
        `--param=runnerImageUri=${image}`,
      ],
    });
    const env = (id: string) => template.Resources[id]!.Properties.Environment.Variables;
    expect(env('WebhookLambdaFunction')).toMatchObject({
      GHE_HOST: 'ghe.example.com',
      GHE_PROTOCOL: 'http',
      ALLOWED_OWNERS: 'acme,umbrella',
      LOG_LEVEL: 'debug',
    });
    expect(env('BrokerLambdaFunction')).toMatchObject({
      GHE_HOST: 'ghe.example.com',
      RUNNER_REGISTRATION: 'token',
      RUNNER_SCOPE: 'org',
    });
    expect(template.Resources.RunnerLambdaFunction!.Properties.Code.ImageUri).toBe(image);
    const [config] = Object.values(template.Resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::EventInvokeConfig',
    );
    expect(config!.Properties.MaximumEventAgeInSeconds).toBe(3600);
  }, 60_000);

  it("refuses an environment over Lambda's 4 KB and names the parameter to shorten", () => {
    const repositories = Array.from({ length: 250 }, (_, i) => `acme/repository-${i}`).join(',');
    expect(() =>
      pack(work, 'too-big', {
        args: [`--param=allowedRepositories=${repositories}`],
        stage: 'toobig',
      }),
    ).toThrow(
      /lambda-runner-toobig-webhook: its environment would be \d+ bytes, over Lambda's 4096; shorten ALLOWED_REPOSITORIES \(\d+ bytes, from allowedRepositories\)/,
    );
    expect(existsSync(path.join(work, 'stages/toobig.json'))).toBe(false);
  }, 60_000);

  it('refuses reservations that leave under 100 unreserved in the account', () => {
    expect(() =>
      pack(work, 'headroom', {
        args: ['--param=reservedConcurrency=50', '--param=accountConcurrency=149'],
      }),
    ).toThrow(/reserves 65 but accountConcurrency=149 leaves room for 49/);
  }, 60_000);
});

describe('stages remember their settings', () => {
  it('a second package with no --param gives the same template, allow list included', () => {
    const first = pack(work, 'remember-1', {
      stage: 'keep',
      args: ['--param=allowedRepositories=acme/app', '--region=eu-west-1'],
    });
    const second = pack(work, 'remember-2', { stage: 'keep' });
    // The artifact keys carry the packaging time; everything else must be identical.
    const timeless = (template: object) =>
      JSON.stringify(template).replace(/serverless\/lambda-runner\/keep\/[^/]+\//g, '');
    expect(timeless(second.template)).toEqual(timeless(first.template));
    const saved = JSON.parse(readFileSync(path.join(work, 'stages/keep.json'), 'utf8'));
    expect(saved).toEqual({ region: 'eu-west-1', params: { allowedRepositories: 'acme/app' } });
    expect(
      second.template.Resources.WebhookLambdaFunction!.Properties.Environment.Variables
        .ALLOWED_REPOSITORIES,
    ).toBe('acme/app');
  }, 120_000);
});

/** The real `serverless` command, run from deploy/ as the docs run it, against no AWS at all. */
function serverless(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(path.join(root, 'node_modules/.bin/serverless'), args, {
    cwd: path.join(root, 'deploy'),
    env: {
      ...process.env,
      SLS_TELEMETRY_DISABLED: '1',
      LAMBDA_RUNNER_STAGES_DIR: path.join(work, 'stages'),
      AWS_ACCESS_KEY_ID: 'none',
      AWS_SECRET_ACCESS_KEY: 'none',
      // Nothing answers here: a command that got past the checks would fail on the network.
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('a bad deploy parameter on the command line', () => {
  it('ends the command with one short message naming each bad input, and writes no stage file', () => {
    const { status, output } = serverless([
      'package',
      '--stage',
      'badparam',
      '--param=reservedConcurrency=5000',
      '--param=runnerVersion=latest',
      '--package',
      path.join(work, 'badparam'),
    ]);
    expect(status).toBe(1);
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toEqual([
      'lambda-runner: bad deploy parameters:',
      '  - reservedConcurrency="5000": must be a whole number from 1 to 900',
      '  - runnerVersion="latest": must be a release version such as 2.336.0 (never latest)',
    ]);
    expect(existsSync(path.join(work, 'stages/badparam.json'))).toBe(false);
  }, 60_000);

  it('`deploy list` needs no Docker and no image', () => {
    const { output } = serverless(['deploy', 'list', '--stage', 'listonly']);
    expect(output).not.toMatch(/Docker|placeholder/);
    expect(existsSync(path.join(work, 'stages/listonly.json'))).toBe(false);
  }, 60_000);
});

describe('serverless deploy without a real image', () => {
  it('stops before touching AWS, with one message that says what to do', () => {
    const result = serverless(['deploy', '--stage', 'nodocker']);
    expect(result.status).not.toBe(0);
    const { output } = result;
    expect(output).toMatch(/no Docker engine answers, so there is no real runner image/);
    expect(output).toMatch(/runnerImageUri=<ecr uri>@sha256:<digest>/);
    expect(output).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
  }, 60_000);

  it('stops for a codebuild profile without its CodeBuild image, naming the parameter', () => {
    const file = path.join(__dirname, 'fixtures/codebuild-profiles.json');
    const image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/runner@sha256:${'a'.repeat(64)}`;
    const result = serverless(
      ['deploy', '--stage', 'nobuildimage', `--param=runnerImageUri=${image}`],
      {
        RUNNER_PROFILES_FILE: file,
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(
      /a codebuild profile runs on x86_64, and there is no CodeBuild runner image/,
    );
    expect(result.output).toMatch(/--target codebuild/);
    expect(result.output).toMatch(/codebuildImageUri=<ecr uri>@sha256:<digest>/);
    expect(result.output).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
  }, 60_000);
});
