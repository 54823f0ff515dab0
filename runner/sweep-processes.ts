import { readdir, readFile } from 'node:fs/promises';

/** A process as /proc shows it: its pid and start time (ticks since boot), so a reused pid is not it. */
export type ProcessMark = `${number}@${number}`;

export interface SweepOptions {
  /**
   * The processes that belong to the sandbox, recorded at init (the runtime, this handler,
   * extensions). When given, every other process goes, whatever it did to its environment,
   * session or process group.
   */
  readonly keep?: ReadonlySet<ProcessMark>;
  /** Without `keep` (local mode, a shared host): only processes carrying `LAMBDA_RUNNER_JOB=<tag>`. */
  readonly tag?: string;
  /** Without `keep` or `tag`: only processes whose environment holds this `NAME=value`. */
  readonly marker?: string;
  readonly procDir?: string;
  /** Sweeps before giving up on processes that keep coming back. */
  readonly maxPasses?: number;
}

export interface SweepResult {
  readonly killed: number;
  /** Processes still alive after every pass: the sandbox is not clean. */
  readonly survivors: readonly number[];
}

/**
 * What belongs in the sandbox at init: the processes alive now that run as another user (the
 * platform's own). A process of this user that is not this handler or its ancestor cannot be
 * the platform's: the image starts nothing else, so it is what a job left when an earlier
 * runtime in this sandbox was killed mid-job, and the first sweep takes it.
 */
export async function processMarks(
  procDir = '/proc',
  uid = process.getuid?.() ?? -1,
): Promise<Set<ProcessMark>> {
  const marks = await Promise.all(
    (await listPids(procDir)).map(async (pid) => {
      const fields = await statFields(procDir, pid);
      if (!fields || (await ownerOf(procDir, pid)) === uid) return undefined;
      return `${pid}@${fields.startTicks}` as ProcessMark;
    }),
  );
  return new Set(marks.filter((mark): mark is ProcessMark => mark !== undefined));
}

async function ownerOf(procDir: string, pid: number): Promise<number | undefined> {
  const status = await readFile(`${procDir}/${pid}/status`, 'utf8').catch(() => '');
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  return uid === undefined ? undefined : Number(uid);
}

/**
 * Kills every process that does not belong: in each pass, stops (SIGSTOP) every one found,
 * looks again until a look finds none still running (a process that forks a new pid to dodge
 * the sweep is stopped in its new guise), then kills them all. Passes repeat until one finds
 * nothing, so nothing the job started, double-forked or not, outlives the sweep.
 */
export async function sweepProcesses(options: SweepOptions): Promise<SweepResult> {
  const procDir = options.procDir ?? '/proc';
  const spared = await ancestry(procDir);
  let killed = 0;
  for (let pass = 0; pass < (options.maxPasses ?? 50); pass += 1) {
    const stopped = await stopAll(procDir, spared, options);
    if (stopped.size === 0) return { killed, survivors: [] };
    stopped.forEach((pid) => send(pid, 'SIGKILL'));
    killed += stopped.size;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { killed, survivors: await findVictims(procDir, spared, options) };
}

/** Stops every victim, looking again until no look finds a new one; returns all it stopped. */
async function stopAll(procDir: string, spared: Set<number>, options: SweepOptions) {
  const stopped = new Set<number>();
  for (let look = 0; look < 100; look += 1) {
    const fresh = (await findVictims(procDir, spared, options)).filter((pid) => !stopped.has(pid));
    if (fresh.length === 0) break;
    fresh.forEach((pid) => {
      send(pid, 'SIGSTOP');
      stopped.add(pid);
    });
  }
  return stopped;
}

async function findVictims(
  procDir: string,
  spared: Set<number>,
  options: SweepOptions,
): Promise<number[]> {
  const marker = options.tag ? `LAMBDA_RUNNER_JOB=${options.tag}` : options.marker;
  const found = await Promise.all(
    (await listPids(procDir))
      .filter((pid) => !spared.has(pid))
      .map(async (pid) => {
        const fields = await statFields(procDir, pid);
        if (!fields || (await isDead(procDir, pid, fields.state))) return undefined;
        if (options.keep)
          return (await isKept(procDir, pid, fields.startTicks, options.keep)) ? undefined : pid;
        if (!marker) return undefined;
        const environ = await readFile(`${procDir}/${pid}/environ`, 'utf8').catch(() => '');
        return environ.split('\0').includes(marker) ? pid : undefined;
      }),
  );
  return found.filter((pid): pid is number => pid !== undefined);
}

/**
 * Gone, or dead and not yet reaped. A leader in `Z` is dead only if every thread of its group
 * is: a main thread may exit while its other threads keep running, and the process lives on.
 */
async function isDead(procDir: string, pid: number, state: string | undefined): Promise<boolean> {
  if (state !== 'Z' && state !== 'X') return false;
  const tids = await readdir(`${procDir}/${pid}/task`).catch(() => [] as string[]);
  const states = await Promise.all(
    tids.map(async (tid) => {
      const stat = await readFile(`${procDir}/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }),
  );
  return states.every(
    (threadState) => threadState === '' || threadState === 'Z' || threadState === 'X',
  );
}

/** Kept: recorded at init, or another user's (the platform's, and not ours to signal anyway). */
async function isKept(
  procDir: string,
  pid: number,
  startTicks: number,
  keep: ReadonlySet<ProcessMark>,
): Promise<boolean> {
  if (keep.has(`${pid}@${startTicks}`)) return true;
  return (await ownerOf(procDir, pid)) !== (process.getuid?.() ?? -1);
}

async function listPids(procDir: string): Promise<number[]> {
  return (await readdir(procDir)).filter((name) => /^\d+$/.test(name)).map(Number);
}

/** This process and its ancestors: never signalled. */
async function ancestry(procDir: string): Promise<Set<number>> {
  const spared = new Set<number>([0]);
  let pid: number | undefined = process.pid;
  while (pid && !spared.has(pid)) {
    spared.add(pid);
    pid = (await statFields(procDir, pid))?.ppid;
  }
  return spared;
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
