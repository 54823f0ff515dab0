import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadRoutingConfig } from './config';
import type { JobEvent } from './decide-job';
import type { Env } from './env';
import { explainJob } from './explain';
import { jobStory } from './job-story';

const USAGE = `usage:
  lambda-runner explain --labels self-hosted,lambda-runner --repo owner/repo [--public] [--action queued]
  lambda-runner explain --payload delivery.json [--event workflow_job]
  lambda-runner explain --logs exported.log --job <job id>
Routing settings come from the environment, as on the webhook (REQUIRED_LABEL, RUNNER_LABELS,
RUNNER_PROFILES, ALLOWED_REPOSITORIES, ALLOWED_OWNERS, ALLOW_PUBLIC_REPOSITORIES).`;

/** `lambda-runner explain ...`: why a job does or does not get a runner. Returns the exit code. */
export function main(
  argv: string[],
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  env: Env = process.env,
): number {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      labels: { type: 'string' },
      repo: { type: 'string' },
      public: { type: 'boolean', default: false },
      action: { type: 'string', default: 'queued' },
      payload: { type: 'string' },
      event: { type: 'string', default: 'workflow_job' },
      logs: { type: 'string' },
      job: { type: 'string' },
    },
  });
  if (positionals[0] !== 'explain') return usage(print);
  if (values.logs) return story(values.logs, values.job, print);
  const payload = values.payload ? readPayload(values.payload) : fromFlags(values);
  if (!payload) return usage(print);
  const lines = explainJob({ event: values.event, payload }, loadRoutingConfig(env));
  lines.forEach((line) => print(line));
  return String(lines[0]).startsWith('✔') ? 0 : 1;
}

function readPayload(file: string): JobEvent {
  return JSON.parse(readFileSync(file, 'utf8')) as JobEvent;
}

function story(file: string, job: string | undefined, print: (line: string) => void): number {
  if (!job) return usage(print);
  jobStory(readFileSync(file, 'utf8'), Number(job)).forEach((line) => print(line));
  return 0;
}

function fromFlags(values: {
  labels?: string;
  repo?: string;
  public?: boolean;
  action?: string;
}): JobEvent | undefined {
  if (values.labels === undefined || !values.repo) return undefined;
  return {
    action: values.action,
    workflow_job: {
      labels: values.labels
        .split(',')
        .map((label) => label.trim())
        .filter(Boolean),
    },
    repository: { full_name: values.repo, private: !values.public },
  };
}

function usage(print: (line: string) => void): number {
  print(USAGE);
  return 2;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
  }
}
