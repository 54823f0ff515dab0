import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dependencyGraph, findCycles } from '../support/dependency-cycles';
import { pack, packageWorkDir, root, type Template } from '../support/serverless-package';

const work = packageWorkDir();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cfnLintFound = spawnSync('cfn-lint', ['--version'], { stdio: 'ignore' }).status === 0;
if (!cfnLintFound) {
  // CI installs cfn-lint (.ci/run) and sets CI=true, so there this is a failure, never a skip.
  if (process.env.CI === 'true') throw new Error('cfn-lint is required in CI but is not on PATH');
  console.warn('SKIP cfn-lint: not on PATH (pip install cfn-lint); the cycle check still runs');
}

/** Runs AWS's CloudFormation linter; returns its error-level findings (exit bit 2). */
function cfnLintErrors(file: string): string[] {
  const result = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8' });
  const findings = result.stdout.split('\n').filter(Boolean);
  const errors = findings.filter((line) => /:E\d{4}:/.test(line));
  if (((result.status ?? 0) & 2) !== 0 && errors.length === 0) errors.push(result.stdout);
  if (result.status === 1 || result.error) errors.push(`cfn-lint failed: ${result.stderr}`);
  return errors;
}

const profilesFile = path.join(work, 'profiles.json');
writeFileSync(
  profilesFile,
  JSON.stringify([
    { name: 'default', labels: ['self-hosted', 'lambda-runner', 'linux', 'x64'] },
    {
      name: 'graviton',
      labels: ['self-hosted', 'lambda-runner', 'linux', 'arm64'],
      architecture: 'arm64',
      memorySize: 10240,
      reservedConcurrency: 1,
    },
    { name: 'org-big', labels: ['lambda-runner', 'big'], scope: 'org', group: 'big' },
  ]),
);

/** A Lambda profile, an EC2 CodeBuild profile with Docker, an arm64 one and a Lambda-compute one. */
const buildProfilesFile = path.join(__dirname, 'fixtures/codebuild-profiles.json');

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const MANAGED = [
  'ReadOnlyAccess',
  'AmazonS3ReadOnlyAccess',
  'AmazonDynamoDBReadOnlyAccess',
  'CloudWatchLogsReadOnlyAccess',
  'AmazonSQSReadOnlyAccess',
  'AmazonSNSReadOnlyAccess',
  'AWSLambda_ReadOnlyAccess',
  'AmazonEC2ReadOnlyAccess',
  'AWSCloudFormationReadOnlyAccess',
].map((name) => `arn:aws:iam::aws:policy/${name}`);
/** 80 repositories of 28 characters: about 2.3 KB of the webhook's 4 KB environment. */
const LONG_REPOSITORIES = Array.from(
  { length: 80 },
  (_, i) => `acme-platform/service-${String(i).padStart(5, '0')}`,
).join(',');
const variants: [string, string[], Record<string, string>][] = [
  ['default', [], {}],
  ['profiles-with-arm64', [], { RUNNER_PROFILES_FILE: profilesFile }],
  [
    'codebuild',
    [
      `--param=codebuildImageUri=123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-runner-build@${digest('b')}`,
      `--param=codebuildImageUriArm64=123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-runner-build-arm64@${digest('c')}`,
      '--param=alarmEmail=ops@example.com',
    ],
    { RUNNER_PROFILES_FILE: buildProfilesFile },
  ],
  ['sam-deploy', ['--param=jobPolicies=sam-deploy', '--param=additionalApps=4'], {}],
  ['ghes', ['--param=gheHost=github.example.com:8443', '--param=gheProtocol=https'], {}],
  [
    'limits-low',
    [
      '--param=reservedConcurrency=1',
      '--param=logRetentionDays=1',
      '--param=maximumEventAgeSeconds=60',
      '--param=accountConcurrency=116',
      '--param=logLevel=trace',
      '--param=runnerScope=org',
      '--param=runnerRegistration=token',
      '--param=allowPublicRepositories=true',
    ],
    {},
  ],
  [
    // Every parameter at its upper limit; the repository list as long as the 4 KB environment
    // allows (the package step refuses a longer one: parameters.test.ts).
    'limits-high',
    [
      '--param=reservedConcurrency=900',
      '--param=webhookReservedConcurrency=100',
      '--param=brokerReservedConcurrency=100',
      '--param=apiThrottleRateLimit=10000',
      '--param=apiThrottleBurstLimit=5000',
      '--param=logRetentionDays=3653',
      '--param=maximumEventAgeSeconds=21600',
      '--param=accountConcurrency=100000',
      `--param=jobPolicies=${['sam-deploy', ...MANAGED.slice(0, 9)].join(',')}`,
      '--param=alarmEmail=ops@example.com',
      `--param=allowedRepositories=${LONG_REPOSITORIES}`,
      '--param=allowedOwners=acme,acme-labs,acme-platform',
      '--param=gheHost=github.example.com:65535',
      `--param=runnerImageUri=123456789012.dkr.ecr.eu-west-1.amazonaws.com/runner@${digest('a')}`,
      '--param=logLevel=silent',
      '--region=eu-west-1',
    ],
    {},
  ],
];

describe.each(variants)('the %s template', (name, args, env) => {
  let file = '';
  let template: Template;
  beforeAll(() => {
    ({ file, template } = pack(work, name, { args, env, stage: name.slice(0, 16) }));
  }, 120_000);

  it('has no dependency cycle (Ref, GetAtt, Sub, DependsOn)', () => {
    expect(findCycles(dependencyGraph(template))).toEqual([]);
  });

  (cfnLintFound ? it : it.skip)('passes cfn-lint with no error-level finding', () => {
    expect(cfnLintErrors(file)).toEqual([]);
  });
});

describe('the dependency-cycle check', () => {
  it('catches a cycle planted through GetAtt and Sub, and ignores pseudo parameters', () => {
    const fixture = JSON.parse(
      readFileSync(path.join(__dirname, 'fixtures/planted-cycle.json'), 'utf8'),
    ) as Template;
    const cycles = findCycles(dependencyGraph(fixture));
    expect(cycles).toEqual([['RunnerRole', 'JobRole', 'RunnerRole']]);
  });

  (cfnLintFound ? it : it.skip)('agrees with cfn-lint on the planted cycle', () => {
    const errors = cfnLintErrors(path.join(__dirname, 'fixtures/planted-cycle.json'));
    expect(errors.join('\n')).toMatch(/E3004/);
  });
});

it('keeps the deploy directory free of test stage files', () => {
  expect(() => readFileSync(path.join(root, 'deploy/stages/citest.json'))).toThrow();
});
