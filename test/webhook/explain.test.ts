import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli';
import { examplePayload, queuedJob } from '../support/webhook-events';

const dir = mkdtempSync(path.join(tmpdir(), 'lambda-runner-explain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function explain(args: string[], env: Record<string, string> = {}) {
  const lines: string[] = [];
  const code = main(['explain', ...args], (line) => lines.push(line), env);
  return { code, text: lines.join('\n') };
}

describe('lambda-runner explain: the five common "why no runner" cases', () => {
  it('missing required label', () => {
    const { code, text } = explain(['--labels', 'self-hosted,linux', '--repo', 'acme/app']);
    expect(code).toBe(1);
    expect(text).toContain(
      `✘ no runner: the job's labels do not include "lambda-runner" [missing-required-label]`,
    );
    expect(text).toContain('add the required label to `runs-on`');
  });

  it('a label no profile offers, naming what each profile lacks', () => {
    const profiles = JSON.stringify([
      { name: 'small', labels: ['lambda-runner', 'linux'], functionName: 'small-fn' },
      { name: 'gpu', labels: ['lambda-runner', 'gpu'], functionName: 'gpu-fn' },
    ]);
    const { code, text } = explain(['--labels', 'lambda-runner,linux,gpu', '--repo', 'acme/app'], {
      RUNNER_PROFILES: profiles,
    });
    expect(code).toBe(1);
    expect(text).toContain('[no-matching-profile]');
    expect(text).toContain('profile "small" offers [lambda-runner, linux]; lacks [gpu]');
    expect(text).toContain('profile "gpu" offers [lambda-runner, gpu]; lacks [linux]');
  });

  it('repository not allowed', () => {
    const { code, text } = explain(['--labels', 'lambda-runner', '--repo', 'acme/app'], {
      ALLOWED_OWNERS: 'other-org',
    });
    expect(code).toBe(1);
    expect(text).toContain(
      'repository "acme/app" is not in ALLOWED_REPOSITORIES or ALLOWED_OWNERS [repository-not-allowed]',
    );
  });

  it('public repository', () => {
    const { code, text } = explain(['--labels', 'lambda-runner', '--repo', 'acme/app', '--public']);
    expect(code).toBe(1);
    expect(text).toContain('[public-repository]');
    expect(text).toContain('ALLOW_PUBLIC_REPOSITORIES=true');
  });

  it('an action that is not queued, from a saved webhook payload', () => {
    const file = path.join(dir, 'completed.json');
    writeFileSync(file, JSON.stringify(examplePayload('workflow_job', 'completed')));
    const { code, text } = explain(['--payload', file]);
    expect(code).toBe(1);
    expect(text).toContain('✘ no runner: action "completed" is not "queued" [action-not-queued]');
  });
});

describe('lambda-runner explain: a job that gets a runner', () => {
  it('names the profile and its function, from a saved payload', () => {
    const file = path.join(dir, 'queued.json');
    writeFileSync(file, JSON.stringify(queuedJob()));
    const { code, text } = explain(['--payload', file], {
      RUNNER_FUNCTION_NAME: 'lambda-runner-prod-runner-default',
    });
    expect(code).toBe(0);
    expect(text).toContain(
      '✔ a runner starts: profile "default" (function lambda-runner-prod-runner-default)',
    );
    expect(text).toContain('isolation version: it runs in a function version of its own');
  });

  it('says plainly what a shared profile lets a job do to the jobs after it', () => {
    const { code, text } = explain(
      ['--labels', 'self-hosted,lambda-runner', '--repo', 'acme/app'],
      {
        RUNNER_PROFILES: JSON.stringify([
          {
            name: 'trusted',
            labels: ['self-hosted', 'lambda-runner'],
            functionName: 'lambda-runner-prod-runner-trusted',
            isolation: 'shared',
          },
        ]),
      },
    );
    expect(code).toBe(0);
    expect(text).toMatch(
      /isolation shared: it runs where earlier jobs of lambda-runner-prod-runner-trusted ran.*can take the next job's runner credential/,
    );
  });

  it('prints usage for missing arguments', () => {
    expect(explain(['--labels', 'x']).code).toBe(2);
    expect(main(['nope'], () => undefined, {})).toBe(2);
  });

  it('reports a bad configuration the way the webhook would, all problems at once, exit 2', () => {
    const { code, text } = explain(['--labels', 'lambda-runner', '--repo', 'a/b'], {
      ALLOW_PUBLIC_REPOSITORIES: 'maybe',
      RUNNER_LABELS: ',,,',
    });
    expect(code).toBe(2);
    expect(text).toMatch(/ALLOW_PUBLIC_REPOSITORIES must be "true" or "false"/);
    expect(text).toMatch(/RUNNER_LABELS must list at least one label/);
  });
});

describe('lambda-runner explain --logs across the broker', () => {
  it('tells a replay, a failed replay and a redispatch', () => {
    const at = (ms: number, record: Record<string, unknown>) =>
      JSON.stringify({ level: 30, time: Date.UTC(2026, 10, 29, 0, 0, 0, ms), jobId: 7, ...record });
    const file = path.join(dir, 'broker.log');
    writeFileSync(
      file,
      [
        at(1, { level: 50, deliveryId: 'd', decision: 'failed', msg: 'dispatch failed' }),
        at(2, { replays: 0, msg: 'dead letter failed again: put back' }),
        at(3, {
          replays: 1,
          decision: 'replayed',
          outcome: 'started',
          msg: 'dead letter replayed',
        }),
        at(4, {
          runnerName: 'lambda-7-1-1',
          condition: 'RetriesExhausted',
          jobStatus: 'queued',
          msg: 'runner settled',
        }),
        at(5, {
          decision: 'redispatch',
          outcome: 'started',
          msg: 'job still queued: dispatched again',
        }),
      ].join('\n'),
    );
    const lines: string[] = [];
    expect(
      main(['explain', '--logs', `broker=${file}`, '--job', '7'], (line) => lines.push(line), {}),
    ).toBe(0);
    expect(lines.map((line) => line.replace(/^\S+\s+/, ''))).toEqual([
      'broker: failed',
      'broker: replay 1 failed; kept for the next run',
      'broker: replayed from its dead-letter queue ("started")',
      'broker: runner lambda-7-1-1 ended (RetriesExhausted); job queued',
      'broker: the job still waits: dispatched again (started)',
    ]);
  });
});

describe('lambda-runner explain --logs: what a job printed is never told as the broker', () => {
  const at = (ms: number, record: Record<string, unknown>) =>
    JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 2, 0, 0, 0, ms), jobId: 9, ...record });
  // The job writes pino lines into its runner's output: a "registration deleted" of its making.
  const forged = [
    at(5, { msg: 'runner registration deleted' }),
    at(6, {
      runnerName: 'lambda-9-1-1',
      condition: 'Success',
      jobStatus: 'completed',
      msg: 'runner settled',
    }),
    at(7, { decision: 'started', msg: 'runner started', runnerName: 'lambda-9-1-9', runnerId: 1 }),
  ];
  const runnerLog = [
    at(2, { line: 'Running job: build' }),
    ...forged,
    at(8, { outcome: 'completed', msg: 'runner completed' }),
  ].join('\n');
  const brokerLog = at(1, {
    decision: 'started',
    runnerName: 'lambda-9-1-1',
    runnerId: 42,
    msg: 'runner started',
  });
  const tell = (...args: string[]) => {
    const lines: string[] = [];
    main(['explain', ...args, '--job', '9'], (line) => lines.push(line), {});
    return lines.map((line) => line.replace(/^\S+\s+/, ''));
  };

  it("tells broker steps from the broker's log alone, and only listener and outcome from the runner's", () => {
    const runner = path.join(dir, 'runner-9.log');
    const broker = path.join(dir, 'broker-9.log');
    writeFileSync(runner, runnerLog);
    writeFileSync(broker, brokerLog);
    expect(tell('--logs', `broker=${broker}`, '--logs', `runner=${runner}`)).toEqual([
      'broker: runner lambda-9-1-1 registered (id 42) and started',
      'listener: Running job: build',
      "runner says it ended: completed (the job's own word)",
    ]);
  });

  it("tells GitHub's conclusion beside what the runner claimed", () => {
    const runner = path.join(dir, 'runner-9b.log');
    const broker = path.join(dir, 'broker-9b.log');
    writeFileSync(
      runner,
      at(3, { outcome: 'completed', jobResult: 'Succeeded', msg: 'runner completed' }),
    );
    writeFileSync(
      broker,
      at(4, {
        runnerName: 'lambda-9-1-1',
        condition: 'Success',
        jobStatus: 'completed',
        jobConclusion: 'failure',
        msg: 'runner settled',
      }),
    );
    expect(tell('--logs', `broker=${broker}`, '--logs', `runner=${runner}`)).toEqual([
      "runner says it ended: completed, job Succeeded (the job's own word)",
      "broker: runner lambda-9-1-1 ended (Success); job completed, failure (GitHub's word)",
    ]);
  });

  it('marks every step of an untagged file as of unknown source', () => {
    const merged = path.join(dir, 'merged-9.log');
    writeFileSync(merged, `${brokerLog}\n${runnerLog}`);
    const told = tell('--logs', merged);
    expect(told).toContain(
      'broker: registration deleted  [source unknown: anything a runner printed could say this]',
    );
    expect(
      told
        .filter((line) => line.startsWith('broker:'))
        .every((line) => line.includes('[source unknown')),
    ).toBe(true);
  });
});
