import type { Env } from '../src/env';
import type { JobWorkspace } from './job-workspace';

/**
 * Variables a job must never see: the App's key and the webhook secret (local mode holds them
 * in the environment), and the Lambda runtime API, through which a job could answer for this
 * invocation.
 */
const WITHHELD = [
  'PRIVATE_KEY',
  'PRIVATE_KEY_PATH',
  'WEBHOOK_SECRET',
  'WEBHOOK_SECRET_ARN',
  'GITHUB_APP_SECRET_ARN',
  'AWS_LAMBDA_RUNTIME_API',
  '_HANDLER',
  // A CodeBuild build's sealed payload (its one-use credential), already read by the runner.
  'LAMBDA_RUNNER_PAYLOAD',
];

/**
 * The listener's environment: this function's own (so jobs get its AWS credentials, the point
 * of a runner on Lambda) minus {@link WITHHELD}, with HOME, the tool cache and TMPDIR inside the
 * job's workspace and a tag every process the job starts inherits, for the sweep.
 */
export function jobEnvironment(base: Env, workspace: JobWorkspace, tag: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !WITHHELD.includes(name)) env[name] = value;
  }
  return {
    ...env,
    HOME: workspace.home,
    RUNNER_TOOL_CACHE: workspace.toolCache,
    AGENT_TOOLSDIRECTORY: workspace.toolCache,
    TMPDIR: workspace.tmp,
    // Lambda runs as an unprivileged user; local runs as root are allowed explicitly.
    RUNNER_ALLOW_RUNASROOT: '1',
    LAMBDA_RUNNER_JOB: tag,
  };
}
