import { execFile } from 'node:child_process';
import { lstat, readdir, rm, statfs, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import type { RunnerConfig } from './config';
import { processMarks, sweepProcesses, type ProcessMark } from './sweep-processes';

export interface CleanReport {
  readonly processesKilled: number;
  /** Why the sandbox is not clean; a tainted sandbox serves no job and is discarded. */
  readonly tainted?: string;
}

export interface Sandbox {
  /**
   * Makes the sandbox clean: kills every process that does not belong, restores write
   * permission and wipes the work root (in Lambda) or the job's directory (elsewhere), and
   * checks free space. Runs before and after every job.
   */
  clean(options: { tag: string; jobDir?: string }): Promise<CleanReport>;
}

/**
 * The sandbox a runner serves jobs in. Inside Lambda (`ownsContainer`) the processes alive now,
 * at init, are the ones that belong (the runtime, this handler); anything else found later is a
 * job's and goes. Elsewhere only the job's own tagged processes and files are touched.
 */
export async function createSandbox(
  config: Pick<RunnerConfig, 'ownsContainer' | 'workRoot' | 'minFreeBytes'>,
  procDir = '/proc',
): Promise<Sandbox> {
  const keep: ReadonlySet<ProcessMark> | undefined = config.ownsContainer
    ? await processMarks(procDir)
    : undefined;
  return {
    async clean({ tag, jobDir }) {
      const swept = await sweepProcesses({ keep, tag, procDir });
      const targets = config.ownsContainer
        ? await entries(config.workRoot)
        : jobDir
          ? [jobDir]
          : [];
      const left = await wipe(targets);
      const tainted = taint(swept.survivors, left, await freeBytes(config.workRoot), config);
      return { processesKilled: swept.killed, ...(tainted ? { tainted } : {}) };
    },
  };
}

function taint(
  survivors: readonly number[],
  left: string[],
  free: number | undefined,
  config: Pick<RunnerConfig, 'minFreeBytes'>,
): string | undefined {
  if (survivors.length > 0) return `processes survived the sweep: ${survivors.join(', ')}`;
  if (left.length > 0) return `files could not be removed: ${left.slice(0, 5).join(', ')}`;
  if (free !== undefined && free < config.minFreeBytes)
    return `only ${Math.floor(free / 1048576)} MB free in the work root after the wipe`;
  return undefined;
}

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).map((name) => path.join(dir, name));
}

const run = promisify(execFile);
const exists = (target: string) =>
  lstat(target).then(
    () => true,
    () => false,
  );

/**
 * Removes each target; returns those still there. Links are removed, never followed. Node's own
 * removal does the common case in-process. What it leaves (a directory a job made unwritable with
 * `chmod 555`, a tree deeper than PATH_MAX) goes to coreutils, which walk directory-relative
 * (openat) and never follow links: `chmod -R u+rwx` gives write back, then `rm -rf` removes it.
 */
async function wipe(targets: string[]): Promise<string[]> {
  const left: string[] = [];
  for (const target of targets) {
    const stats = await lstat(target).catch(() => undefined);
    if (!stats) continue;
    if (stats.isSymbolicLink()) await unlink(target).catch(() => undefined);
    else await rm(target, { recursive: true, force: true }).catch(() => undefined);
    if (stats.isDirectory() && (await exists(target))) {
      await run('chmod', ['-R', 'u+rwx', '--', target]).catch(() => undefined);
      await run('rm', ['-rf', '--', target]).catch(() => undefined);
    }
    if (await exists(target)) left.push(target);
  }
  return left;
}

async function freeBytes(dir: string): Promise<number | undefined> {
  const stats = await statfs(dir).catch(() => undefined);
  return stats && stats.bavail * stats.bsize;
}
