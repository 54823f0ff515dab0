import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadRoutingConfig } from './config';
import type { JobEvent } from './decide-job';
import type { Env } from './env';
import { ConfigError } from './errors';
import { explainJob } from './explain';
import { jobStory, type LogSource } from './job-story';

const HELP = `lambda-runner: ephemeral GitHub Actions runners on AWS Lambda

usage: lambda-runner <command> [options]

commands:
  explain    why a job does or does not get a runner, or one job's story from exported logs
  status     is the stage working? webhook URL, deliveries, runners, dead letters, alarms, runner version
  runner-update  move the stage's runner release lock to GitHub's latest release; the next deploy builds it

options:
  -h, --help     this help (lambda-runner <command> --help for a command's)
  --version      the installed version

Deploy helpers: npm run deploy, npm run deploy:secrets, npm run deploy:webhook-url (docs/DEPLOYMENT.md).`;

const EXPLAIN_HELP = `usage:
  lambda-runner explain --labels self-hosted,lambda-runner --repo owner/repo [--public] [--action queued] [--stage S]
  lambda-runner explain --payload delivery.json [--event workflow_job] [--stage S]
  lambda-runner explain --logs webhook=w.log --logs broker=b.log --logs runner=r.log --job <job id>

With --logs, give each function's exported log group as its own file, named by the function it
came from (webhook=, broker=, runner=): a runner's log holds what its job printed, so webhook and
broker steps are told only from their own logs. A file given without a name is read all the
same, its steps marked "source unknown".

Routing settings come from the deployed stage with --stage (deploy/stages/<S>.json, its
parameters and profile file, exactly as deploy uses them), else from the environment, as on the
webhook (REQUIRED_LABEL, RUNNER_LABELS, RUNNER_PROFILES, ALLOWED_REPOSITORIES, ALLOWED_OWNERS,
ALLOW_PUBLIC_REPOSITORIES). Exit code: 0 a runner starts, 1 no runner, 2 a usage or input error.`;

const STATUS_HELP = `usage: lambda-runner status --stage S [--region R] [--env-file .env]

One screen about a deployed stage: the App's webhook URL against the stack's, the last hour's
deliveries, lambda-runner's runners (online, busy, offline, stale), the broker's dead-letter
queue, alarms in ALARM, and the runner version against GitHub's latest release. Reads the
stage's region from deploy/stages/<S>.json (or --region; it never guesses one), the App's
settings from .env, AWS credentials from the shell. Exit code: 0 all well, 1 something needs action (it says what), 2 a usage error.`;

const RUNNER_UPDATE_HELP = `usage: lambda-runner runner-update --stage S

Reads actions/runner's releases from GitHub (RUNNER_RELEASES_API_URL for a mirror, GITHUB_TOKEN
if rate limited), moves the runner release locked in deploy/stages/<S>.json to the latest (its
version and the sha256 of each architecture's tarball, as GitHub publishes them) and says what
changed. The next deploy builds that release. Exit code: 0 moved or already current, 1 the
latest cannot be locked, 2 a usage error.`;

/** A problem with what the user typed or gave: the message says which input and what to do. */
class UsageError extends Error {}

/**
 * `lambda-runner ...`: the operator's command line. Returns the exit code: 0 done (or a runner
 * starts), 1 the answer is "no" (no runner, nothing in the logs), 2 the input was wrong.
 */
export function main(
  argv: string[],
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  env: Env = process.env,
): number | Promise<number> {
  const fail = (error: unknown) => {
    if (!(error instanceof UsageError) && !(error instanceof ConfigError)) throw error;
    print(`lambda-runner: ${error.message.replace(/^lambda-runner: /, '')}`);
    return 2;
  };
  try {
    const code = run(argv, print, env);
    return typeof code === 'number' ? code : code.catch(fail);
  } catch (error) {
    return fail(error);
  }
}

function run(argv: string[], print: (line: string) => void, env: Env): number | Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') return say(print, HELP, 0);
  if (command === '--version') return say(print, version(), 0);
  if (command === 'status') return status(rest, print, env);
  if (command === 'runner-update') return runnerUpdate(rest, print, env);
  if (command !== 'explain')
    throw new UsageError(`unknown command "${command}"; run lambda-runner --help for the commands`);
  return explain(rest, print, env);
}

function status(args: string[], print: (line: string) => void, env: Env): number | Promise<number> {
  let values: { help?: boolean; stage?: string; region?: string; 'env-file'?: string };
  try {
    values = parseArgs({
      args,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        stage: { type: 'string' },
        region: { type: 'string' },
        'env-file': { type: 'string', default: '.env' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`status: ${(error as Error).message}; run lambda-runner status --help`);
  }
  if (values.help) return say(print, STATUS_HELP, 0);
  if (!values.stage) throw new UsageError('status: --stage is required (the stage you deployed)');
  const { statusCommand } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the AWS clients load only for this command
    require('../deploy/status-command') as typeof import('../deploy/status-command');
  return statusCommand(values.stage, values['env-file'] ?? '.env', print, env, values.region);
}

function runnerUpdate(
  args: string[],
  print: (line: string) => void,
  env: Env,
): number | Promise<number> {
  let values: { help?: boolean; stage?: string };
  try {
    values = parseArgs({
      args,
      options: { help: { type: 'boolean', short: 'h', default: false }, stage: { type: 'string' } },
    }).values;
  } catch (error) {
    throw new UsageError(
      `runner-update: ${(error as Error).message}; run lambda-runner runner-update --help`,
    );
  }
  if (values.help) return say(print, RUNNER_UPDATE_HELP, 0);
  if (!values.stage)
    throw new UsageError('runner-update: --stage is required (the stage whose lock moves)');
  const stage = values.stage;
  const { runnerUpdate: update } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads only for this command
    require('../deploy/runner-update') as typeof import('../deploy/runner-update');
  return update(stage, { env, print }).catch((error: unknown) => {
    throw new UsageError(`runner-update --stage ${stage}: ${(error as Error).message}`);
  });
}

function explain(args: string[], print: (line: string) => void, env: Env): number {
  const values = parseExplainArgs(args);
  if (values.help) return say(print, EXPLAIN_HELP, 0);
  if (values.logs) return story(values.logs, values.job, print);
  const payload = values.payload ? readPayload(values.payload, values.event) : fromFlags(values);
  const routing = values.stage ? stageEnvironment(values.stage, env) : env;
  const lines = explainJob({ event: values.event, payload }, loadRoutingConfig(routing));
  lines.forEach((line) => print(line));
  return String(lines[0]).startsWith('✔') ? 0 : 1;
}

function parseExplainArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        labels: { type: 'string' },
        repo: { type: 'string' },
        public: { type: 'boolean', default: false },
        action: { type: 'string', default: 'queued' },
        payload: { type: 'string' },
        event: { type: 'string', default: 'workflow_job' },
        logs: { type: 'string', multiple: true },
        job: { type: 'string' },
        stage: { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`explain: ${(error as Error).message}; run lambda-runner explain --help`);
  }
}

/** The routing environment of a deployed stage, from deploy's own modules. */
function stageEnvironment(stage: string, env: Env): Env {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS modules, read as deploy reads them
  const { stageRouting } = require('../deploy/routing') as {
    stageRouting: (stage: string, env: Env) => { known: boolean; env: Env };
  };
  let routing: { known: boolean; env: Env };
  try {
    routing = stageRouting(stage, env);
  } catch (error) {
    throw new UsageError(`explain --stage ${stage}: ${(error as Error).message}`);
  }
  if (!routing.known) {
    throw new UsageError(
      `explain --stage ${stage}: no deploy/stages/${stage}.json; deploy the stage first, or leave out --stage to use the environment`,
    );
  }
  return routing.env;
}

function readPayload(file: string, event: string): JobEvent {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `explain --payload ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`explain --payload ${file}: not valid JSON (${(error as Error).message})`);
  }
  const job = (payload as { workflow_job?: unknown } | null)?.workflow_job;
  if (
    event === 'workflow_job' &&
    (typeof job !== 'object' || job === null || Array.isArray(payload))
  ) {
    throw new UsageError(
      `explain --payload ${file}: not a workflow_job delivery (it has no "workflow_job" object); save the payload of a "workflow_job" delivery from the App's delivery log, or pass --event <its event>`,
    );
  }
  return payload as JobEvent;
}

function story(files: string[], job: string | undefined, print: (line: string) => void): number {
  if (!job || !/^\d+$/.test(job))
    throw new UsageError(
      `explain --logs: --job must be a job id (a number), got ${JSON.stringify(job ?? '')}`,
    );
  const lines = jobStory(files.map(readLogFile), Number(job));
  lines.forEach((line) => print(line));
  return lines[0]?.startsWith('no log line') ? 1 : 0;
}

/** `[webhook|broker|runner=]file`: a log file and the function it was exported from. */
function readLogFile(given: string): { source: LogSource; text: string } {
  const tagged = /^(webhook|broker|runner)=(.+)$/.exec(given);
  const [source, file] = tagged
    ? [tagged[1] as LogSource, tagged[2]!]
    : ['unknown' as const, given];
  try {
    return { source, text: readFileSync(file, 'utf8') };
  } catch (error) {
    throw new UsageError(
      `explain --logs ${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
    );
  }
}

function fromFlags(values: {
  labels?: string;
  repo?: string;
  public?: boolean;
  action?: string;
}): JobEvent {
  if (values.labels === undefined)
    throw new UsageError(
      "explain: give --labels (the job's runs-on) and --repo, or --payload, or --logs; run lambda-runner explain --help",
    );
  if (!values.repo || !/^[^/\s]+\/[^/\s]+$/.test(values.repo))
    throw new UsageError(
      `explain: --repo must be owner/repo, got ${JSON.stringify(values.repo ?? '')}`,
    );
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

function version(): string {
  const file = path.resolve(__dirname, '..', 'package.json');
  return `lambda-runner ${(JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version}`;
}

function say(print: (line: string) => void, text: string, code: number): number {
  print(text);
  return code;
}

if (require.main === module) {
  void Promise.resolve(main(process.argv.slice(2))).then((code) => (process.exitCode = code));
}
