import type { Env } from '../src/env';

import * as release from './runner-release';
import type { Request as ReleasesRequest, RunnerRelease } from './runner-release';

export type { ReleasesRequest, RunnerRelease };

// eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS modules, shared with serverless.yml
const stageFile = require('./stage-file') as {
  stageFilePath: (stage: string, env: Env) => string;
  readStageFile: (stage: string, env: Env) => { runnerRelease?: RunnerRelease };
  updateStageFile: (stage: string, fields: { runnerRelease: RunnerRelease }, env: Env) => void;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const { releasesRequest } = require('./release-lock') as {
  releasesRequest: (env: Env) => ReleasesRequest;
};

export interface RunnerUpdateOptions {
  readonly env?: Env;
  readonly request?: ReleasesRequest;
  readonly now?: number;
  readonly print: (line: string) => void;
}

/**
 * `lambda-runner runner-update --stage S`: moves the stage's runner release lock to GitHub's
 * latest release (version and both architectures' sha256) and says what changed. The next
 * deploy builds it. Returns the exit code: 0 moved or already current, 1 the latest release
 * cannot be locked (it says why).
 */
export async function runnerUpdate(stage: string, options: RunnerUpdateOptions): Promise<number> {
  const env = options.env ?? process.env;
  const before = stageFile.readStageFile(stage, env).runnerRelease;
  const releases = await release.fetchReleases(options.request ?? releasesRequest(env));
  const latest = lockable(releases, options.now ?? Date.now(), options.print);
  if (!latest) return 1;
  for (const line of release.describeChange(before, latest)) options.print(line);
  if (before?.version === latest.version) return 0;
  stageFile.updateStageFile(stage, { runnerRelease: latest }, env);
  options.print(
    `locked in ${stageFile.stageFilePath(stage, env)}; deploy to build it: cd deploy && npx serverless deploy --stage ${stage}`,
  );
  return 0;
}

/** The latest release, if it may be locked; else says why not. */
function lockable(
  releases: RunnerRelease[],
  now: number,
  print: (line: string) => void,
): RunnerRelease | undefined {
  const latest = releases[0];
  const problems = latest
    ? release.releaseProblems(latest, releases, { now })
    : ['GitHub lists no release of actions/runner'];
  if (problems.length === 0) return latest;
  for (const problem of problems) print(`lambda-runner: ${problem}`);
  print('the lock is unchanged');
  return undefined;
}
