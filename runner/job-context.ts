import type { GitHubClient } from './github-client';
import type { JobWorkspace } from './job-workspace';
import type { RunnerTarget } from './registration';
import type { RunJobDeps } from './run-job';

/** A runner registration: the listener's arguments and, when known, the runner id on GitHub. */
export interface Registration {
  readonly args: string[];
  readonly runnerId?: number;
}

/** What one job's registration, run and clean-up share. */
export interface JobContext extends RunJobDeps {
  readonly client: GitHubClient;
  readonly target: RunnerTarget;
  readonly workspace: JobWorkspace;
  readonly env: NodeJS.ProcessEnv;
  readonly name: string;
  readonly tag: string;
  readonly sweepSince?: number;
}
