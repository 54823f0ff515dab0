import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli';
import { pack } from '../support/serverless-package';
import { examplePayload } from '../support/webhook-events';

/** The command as a user runs it: `npx lambda-runner ...`, a process, its output and exit code. */
const root = path.resolve(__dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'lambda-runner-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(path.join(root, 'node_modules/.bin/lambda-runner'), args, {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

const file = (name: string, content: string) => {
  const full = path.join(dir, name);
  writeFileSync(full, content);
  return full;
};

const TABLE: [string[], number, RegExp][] = [
  [['--help'], 0, /commands:\n {2}explain/],
  [['-h'], 0, /usage: lambda-runner <command>/],
  [[], 0, /usage: lambda-runner <command>/],
  [['--version'], 0, /^lambda-runner \d+\.\d+\.\d+/],
  [
    ['explain', '--help'],
    0,
    /lambda-runner explain --logs webhook=w\.log --logs broker=b\.log --logs runner=r\.log --job <job id>/,
  ],
  [['frobnicate'], 2, /unknown command "frobnicate"; run lambda-runner --help/],
  [['explain', '--nope'], 2, /explain: Unknown option '--nope'.*run lambda-runner explain --help/],
  [['explain', '--labels', 'lambda-runner'], 2, /--repo must be owner\/repo, got ""/],
  [['explain'], 2, /give --labels .* or --payload, or --logs/],
  [
    ['explain', '--logs', 'x.log', '--job', 'abc'],
    2,
    /--job must be a job id \(a number\), got "abc"/,
  ],
  [
    ['explain', '--payload', '/nonexistent.json'],
    2,
    /--payload \/nonexistent\.json: cannot read it \(ENOENT\)/,
  ],
  [
    ['explain', '--logs', '/nonexistent.log', '--job', '1'],
    2,
    /--logs \/nonexistent\.log: cannot read it \(ENOENT\)/,
  ],
  [['status', '--help'], 0, /usage: lambda-runner status --stage S/],
  [['status'], 2, /status: --stage is required/],
  [['status', '--stage', 'x', '--bogus'], 2, /status: Unknown option '--bogus'/],
];

describe('npx lambda-runner, as a user runs it', () => {
  it.each(TABLE)('%j exits %i', (args, code, output) => {
    const result = cli(args);
    expect(result.out).toMatch(output);
    expect(result.code).toBe(code);
  });

  it.each(TABLE)('%j answers the same from main() in this process', async (args, code, output) => {
    const lines: string[] = [];
    expect(await main(args, (line) => lines.push(line), {})).toBe(code);
    expect(lines.join('\n')).toMatch(output);
  });

  it('names the file that is not JSON', () => {
    const bad = file('bad.json', '{"action": "queued",');
    const result = cli(['explain', '--payload', bad]);
    expect(result.code).toBe(2);
    expect(result.out).toContain(`--payload ${bad}: not valid JSON`);
  });

  it.each([
    ['a ping', JSON.stringify(examplePayload('ping'))],
    ['an empty list', '[]'],
  ])('refuses %s as a workflow_job payload, saying what to save instead', (_name, content) => {
    const result = cli(['explain', '--payload', file('not-a-job.json', content)]);
    expect(result.code).toBe(2);
    expect(result.out).toMatch(/not a workflow_job delivery \(it has no "workflow_job" object\)/);
  });

  it('says which profile offers every label when only the required label is missing', () => {
    const result = cli(['explain', '--labels', 'self-hosted,linux', '--repo', 'acme/app']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('offers every label of the job');
    expect(result.out).not.toContain('lacks []');
  });

  it('exits 1 when no log line mentions the job', () => {
    const result = cli(['explain', '--logs', file('empty.log', '{"msg":"x"}\n'), '--job', '42']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('no log line mentions job 42');
  });
});

describe('explain --stage: the routing of what is deployed', () => {
  it('answers as the packaged template routes, from the stage file and its profile file', () => {
    const stages = path.join(dir, 'stages');
    mkdirSync(stages, { recursive: true });
    const profiles = file(
      'profiles.json',
      JSON.stringify([
        { name: 'default', labels: ['self-hosted', 'lambda-runner', 'linux'] },
        { name: 'big', labels: ['self-hosted', 'lambda-runner', 'big'], memorySize: 10240 },
      ]),
    );
    const { template } = pack(dir, 'stage-explain', {
      stage: 'prod',
      args: ['--param=allowedOwners=acme'],
      env: { RUNNER_PROFILES_FILE: profiles, LAMBDA_RUNNER_STAGES_DIR: stages },
    });
    const webhook = template.Resources.WebhookLambdaFunction!.Properties.Environment.Variables;
    const env = { LAMBDA_RUNNER_STAGES_DIR: stages };

    const big = cli(
      [
        'explain',
        '--stage',
        'prod',
        '--labels',
        'self-hosted,lambda-runner,big',
        '--repo',
        'acme/app',
      ],
      env,
    );
    expect(big.code).toBe(0);
    expect(big.out).toContain('profile "big" (function lambda-runner-prod-runner-big)');
    expect(JSON.parse(webhook.RUNNER_PROFILES)[1].functionName).toBe(
      'lambda-runner-prod-runner-big',
    );

    const other = cli(
      [
        'explain',
        '--stage',
        'prod',
        '--labels',
        'self-hosted,lambda-runner',
        '--repo',
        'umbrella/app',
      ],
      env,
    );
    expect(other.code).toBe(1);
    expect(other.out).toContain('[repository-not-allowed]');
    expect(webhook.ALLOWED_OWNERS).toBe('acme');

    // Without --stage the environment decides: the local default profile has no "big".
    const local = cli([
      'explain',
      '--labels',
      'self-hosted,lambda-runner,big',
      '--repo',
      'acme/app',
    ]);
    expect(local.code).toBe(1);

    const unknown = cli(
      ['explain', '--stage', 'nope', '--labels', 'lambda-runner', '--repo', 'a/b'],
      env,
    );
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('no deploy/stages/nope.json');
  }, 120_000);

  it('routes a job that asks for docker to the CodeBuild profile of the example profile file, naming its limits', () => {
    const stages = path.join(dir, 'example-stages');
    mkdirSync(stages, { recursive: true });
    writeFileSync(path.join(stages, 'demo.json'), JSON.stringify({ region: 'us-east-1' }));
    const env = {
      LAMBDA_RUNNER_STAGES_DIR: stages,
      RUNNER_PROFILES_FILE: path.join(__dirname, '../../deploy/runner-profiles.example.json'),
    };
    const ask = (labels: string) =>
      cli(['explain', '--stage', 'demo', '--labels', labels, '--repo', 'acme/app'], env);
    const docker = ask('self-hosted,lambda-runner,linux,x64,docker');
    expect(docker.code).toBe(0);
    expect(docker.out).toContain(
      'profile "docker" (CodeBuild project lambda-runner-demo-build-docker)',
    );
    expect(docker.out).toContain(
      'executor codebuild: project lambda-runner-demo-build-docker, BUILD_GENERAL1_MEDIUM, up to 120 minutes, Docker available (privileged)',
    );
    const plain = ask('self-hosted,lambda-runner,linux,x64');
    expect(plain.out).toContain('profile "default" (function lambda-runner-demo-runner-default)');
    expect(plain.out).toContain('executor lambda: up to 15 minutes');
    const long = ask('self-hosted,lambda-runner,arm64,long');
    expect(long.out).toContain('up to 480 minutes, no Docker');
  });
});
