import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/** The directories one job uses; all of them live under `dir`, removed when the job ends. */
export interface JobWorkspace {
  readonly dir: string;
  readonly root: string;
  readonly home: string;
  readonly toolCache: string;
  readonly tmp: string;
}

/**
 * Where a job's runner root, HOME, tool cache and TMPDIR go, under the work root. The directory
 * is unique per invocation: a duplicate start for the same job (which GitHub refuses with 409)
 * must not lay out or wipe the directory of the runner that is serving it.
 */
export function jobWorkspace(workRoot: string, runnerName: string, unique: string): JobWorkspace {
  const dir = path.join(workRoot, `lambda-runner-${runnerName}-${unique}`);
  return {
    dir,
    root: path.join(dir, 'runner'),
    home: path.join(dir, 'home'),
    toolCache: path.join(dir, 'toolcache'),
    tmp: path.join(dir, 'tmp'),
  };
}

/** Creates HOME, the tool cache and TMPDIR (the runner root is laid out separately). */
export async function createWorkspace(workspace: JobWorkspace): Promise<void> {
  await Promise.all(
    [workspace.home, workspace.toolCache, workspace.tmp].map((dir) =>
      mkdir(dir, { recursive: true }),
    ),
  );
}
