import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { main } from '../../src/cli';

const root = path.resolve(__dirname, '../..');
const workflow = parse(
  readFileSync(path.join(root, 'deploy/github-workflows/runner-refresh.yml'), 'utf8'),
) as {
  on: { schedule: { cron: string }[] };
  permissions: Record<string, string>;
  jobs: {
    refresh: {
      env: { STAGE: string };
      steps: { run?: string; uses?: string; with?: Record<string, string> }[];
    };
  };
};
const steps = workflow.jobs.refresh.steps;
const runs = steps.map((step) => step.run ?? '');
const scripts = (
  JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

describe('the runner refresh workflow a deploying repository turns on', () => {
  it('runs at least weekly, far inside GitHub’s 30 days', () => {
    const [cron] = workflow.on.schedule.map((entry) => entry.cron.split(' '));
    // minute hour day-of-month month day-of-week: a fixed weekday, or more often.
    expect(cron![2]).toBe('*');
    expect(cron![3]).toBe('*');
  });

  it('moves the lock, then deploys with AWS credentials from OIDC, then commits the lock', () => {
    const update = runs.findIndex((run) =>
      run.includes('npx lambda-runner runner-update --stage "$STAGE"'),
    );
    const credentials = steps.findIndex((step) =>
      step.uses?.startsWith('aws-actions/configure-aws-credentials@'),
    );
    const deploy = runs.findIndex((run) => run.includes('npm run deploy -- --stage "$STAGE"'));
    const commit = runs.findIndex((run) => run.includes('git add "deploy/stages/$STAGE.json"'));
    expect(update).toBeGreaterThan(-1);
    expect([update < credentials, credentials < deploy, deploy < commit]).toEqual([
      true,
      true,
      true,
    ]);
    expect(workflow.permissions['id-token']).toBe('write');
    expect(steps[credentials]!.with!['role-to-assume']).toBe(
      '${{ vars.LAMBDA_RUNNER_DEPLOY_ROLE }}',
    );
  });

  it('every command it runs exists as written', async () => {
    expect(scripts.deploy).toMatch(/serverless deploy/);
    const lines: string[] = [];
    expect(await main(['runner-update', '--help'], (line) => lines.push(line), {})).toBe(0);
    expect(lines.join('\n')).toMatch(/^usage: lambda-runner runner-update --stage S/);
  });
});
