import { readdir, readFile } from 'node:fs/promises';

export interface SweepOptions {
  /** The marker put in the job's environment (`LAMBDA_RUNNER_JOB=<tag>`); children inherit it. */
  readonly tag: string;
  /**
   * Inside Lambda the container runs one job at a time, so any process born after `since`
   * (seconds of uptime) that is not this process or its ancestor is the job's, even one that
   * cleared its environment. Processes from before (the runtime, extensions) are never touched.
   */
  readonly since?: number;
  readonly procDir?: string;
}

/**
 * Kills every process the job left behind, including daemons that double-forked out of the
 * listener's process group. Stops them all before killing so a forking process cannot outrun
 * the sweep. Returns how many processes were killed.
 */
export async function sweepProcesses(options: SweepOptions): Promise<number> {
  const procDir = options.procDir ?? '/proc';
  const spared = await ancestry(procDir);
  let killed = 0;
  for (let round = 0; round < 5; round += 1) {
    const victims = await findJobProcesses(procDir, spared, options);
    if (victims.length === 0) break;
    victims.forEach((pid) => send(pid, 'SIGSTOP'));
    victims.forEach((pid) => send(pid, 'SIGKILL'));
    killed += victims.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return killed;
}

/** Seconds since boot, the clock /proc start times use. */
export async function uptimeSeconds(procDir = '/proc'): Promise<number> {
  return Number((await readFile(`${procDir}/uptime`, 'utf8')).split(' ')[0]);
}

async function findJobProcesses(
  procDir: string,
  spared: Set<number>,
  options: SweepOptions,
): Promise<number[]> {
  const marker = `LAMBDA_RUNNER_JOB=${options.tag}`;
  const pids = (await readdir(procDir)).filter((name) => /^\d+$/.test(name)).map(Number);
  const found = await Promise.all(
    pids
      .filter((pid) => !spared.has(pid))
      .map(async (pid) => {
        if ((await statFields(procDir, pid))?.state === 'Z') return undefined; // dead, not yet reaped
        const environ = await readFile(`${procDir}/${pid}/environ`, 'utf8').catch(() => '');
        if (environ.split('\0').includes(marker)) return pid;
        if (options.since === undefined) return undefined;
        const started = await startSeconds(procDir, pid);
        return started !== undefined && started >= options.since ? pid : undefined;
      }),
  );
  return found.filter((pid): pid is number => pid !== undefined);
}

async function ancestry(procDir: string): Promise<Set<number>> {
  const spared = new Set<number>([0, 1]);
  let pid: number | undefined = process.pid;
  while (pid && !spared.has(pid)) {
    spared.add(pid);
    pid = (await statFields(procDir, pid))?.ppid;
  }
  return spared;
}

async function startSeconds(procDir: string, pid: number): Promise<number | undefined> {
  const fields = await statFields(procDir, pid);
  return fields && fields.startTicks / 100; // USER_HZ is 100 on Linux
}

async function statFields(procDir: string, pid: number) {
  const stat = await readFile(`${procDir}/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), startTicks: Number(rest[19]) };
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone, or not ours to signal.
  }
}
