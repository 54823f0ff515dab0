import type { RunnerRequest } from '../src/runner-request';
import { DuplicateRunnerError, GitHubCallError } from './errors';
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
 * The job's status on GitHub, or `undefined` when it cannot be read: the caller fails open,
 * because a lost status check must not strand a job that needs a runner.
 */
export async function readJobStatus(
  client: GitHubClient,
  request: RunnerRequest,
): Promise<string | undefined> {
  try {
    const { data } = await client.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
      owner: request.owner,
      repo: request.repo,
      job_id: request.jobId,
      // A best-effort check: one retry, then go on rather than keep the job waiting.
      request: { retries: 1 },
    });
    return data.status;
  } catch {
    return undefined;
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

function callError(call: string, error: unknown): GitHubCallError {
  const status = (error as { status?: number }).status;
  return new GitHubCallError(
    `lambda-runner: GitHub ${call} failed (${status ?? 'no answer'}): ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}
