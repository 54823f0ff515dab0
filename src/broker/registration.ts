import type { RunnerRequest } from '../runner-request';
import { DuplicateRunnerError, GitHubCallError, RateLimitedError } from './errors';
import type { GitHubClient } from './github-client';

export interface RunnerTarget {
  readonly scope: 'repo' | 'org';
  readonly owner: string;
  readonly repo: string;
}

/** The scope's API path: `/repos/{owner}/{repo}` or `/orgs/{org}`. */
function base({ scope, owner, repo }: RunnerTarget): string {
  const o = encodeURIComponent(owner);
  return scope === 'org' ? `/orgs/${o}` : `/repos/${o}/${encodeURIComponent(repo)}`;
}

/**
 * The job's status on GitHub (`queued`, `in_progress`, `completed`, ...). Throws a retryable
 * {@link GitHubCallError} when it cannot be read: the broker's invocation is retried by Lambda
 * and then kept in its dead-letter queue, so an unreadable status never strands the job.
 */
export async function readJobStatus(
  client: GitHubClient,
  job: Pick<RunnerRequest, 'owner' | 'repo' | 'jobId'>,
): Promise<string> {
  return (await readJob(client, job)).status;
}

/** The job as GitHub reports it: its status and, once completed, its conclusion. */
export async function readJob(
  client: GitHubClient,
  job: Pick<RunnerRequest, 'owner' | 'repo' | 'jobId'>,
): Promise<{ status: string; conclusion?: string }> {
  try {
    const { data } = await client.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
      owner: job.owner,
      repo: job.repo,
      job_id: job.jobId,
    });
    return { status: data.status, ...(data.conclusion ? { conclusion: data.conclusion } : {}) };
  } catch (error) {
    throw callError('job status', error);
  }
}

/** A registered runner as GitHub shows it, or `undefined` when there is none by that id/name. */
export interface RunnerState {
  readonly id: number;
  readonly name: string;
  readonly busy: boolean;
  readonly status: string;
  readonly labels?: readonly { name: string }[];
}

/** The runner with this id, or undefined when GitHub has none (deleted, or gone after its job). */
export async function getRunner(
  client: GitHubClient,
  target: RunnerTarget,
  runnerId: number,
): Promise<RunnerState | undefined> {
  try {
    const { data } = await client.request(`GET ${base(target)}/actions/runners/{runner_id}`, {
      runner_id: runnerId,
    });
    return data as RunnerState;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw callError('get runner', error);
  }
}

/** The runner registered under `name` (token mode, where the broker never saw its id). */
export async function findRunnerByName(
  client: GitHubClient,
  target: RunnerTarget,
  name: string,
): Promise<RunnerState | undefined> {
  try {
    const { data } = await client.request(`GET ${base(target)}/actions/runners`, {
      name,
      per_page: 100,
    });
    return (data.runners as RunnerState[]).find((runner) => runner.name === name);
  } catch (error) {
    throw callError('list runners', error);
  }
}

/**
 * Registers a just-in-time runner for one job. Throws {@link DuplicateRunnerError} on 409: a
 * runner with this name exists, so another invocation already serves the job.
 */
export async function generateJitConfig(
  client: GitHubClient,
  target: RunnerTarget,
  runner: { name: string; labels: readonly string[]; groupId: number; workFolder: string },
): Promise<{ runnerId: number; jitConfig: string }> {
  try {
    const { data } = await client.request(
      `POST ${base(target)}/actions/runners/generate-jitconfig`,
      {
        name: runner.name,
        runner_group_id: runner.groupId,
        labels: [...runner.labels],
        work_folder: runner.workFolder,
      },
    );
    return { runnerId: data.runner.id as number, jitConfig: data.encoded_jit_config as string };
  } catch (error) {
    if ((error as { status?: number }).status === 409) {
      throw new DuplicateRunnerError(`lambda-runner: runner ${runner.name} already exists`, {
        cause: error,
      });
    }
    throw callError('generate-jitconfig', error);
  }
}

/** A registration token for `config.sh` (token mode). */
export async function createRegistrationToken(
  client: GitHubClient,
  target: RunnerTarget,
): Promise<string> {
  try {
    const { data } = await client.request(
      `POST ${base(target)}/actions/runners/registration-token`,
    );
    return data.token as string;
  } catch (error) {
    throw callError('registration-token', error);
  }
}

/** The id of an org runner group by name (repo runners always use the default group, id 1). */
export async function findRunnerGroupId(
  client: GitHubClient,
  target: RunnerTarget,
  group: string,
): Promise<number> {
  if (target.scope === 'repo') return 1;
  try {
    const { data } = await client.request('GET /orgs/{org}/actions/runner-groups', {
      org: target.owner,
      per_page: 100,
    });
    const found = data.runner_groups.find(
      (candidate) => candidate.name.toLowerCase() === group.toLowerCase(),
    );
    if (found) return found.id;
  } catch (error) {
    throw callError('runner-groups', error);
  }
  throw new GitHubCallError(
    `lambda-runner: runner group "${group}" not found in ${target.owner}; check RUNNER_GROUP`,
  );
}

/** Deletes a runner registration; true if it was deleted, false if it was already gone. */
export async function deleteRunner(
  client: GitHubClient,
  target: RunnerTarget,
  runnerId: number,
): Promise<boolean> {
  try {
    await client.request(`DELETE ${base(target)}/actions/runners/{runner_id}`, {
      runner_id: runnerId,
    });
    return true;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw callError('delete runner', error);
  }
}

function callError(call: string, error: unknown): GitHubCallError | RateLimitedError {
  // Told to wait longer than a function sleeps: no failure of GitHub's, and said as such.
  if (error instanceof RateLimitedError) return error;
  const status = (error as { status?: number }).status;
  return new GitHubCallError(
    `lambda-runner: GitHub ${call} failed (${status ?? 'no answer'}): ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}
