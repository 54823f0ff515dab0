import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandbox } from '../../runner/sandbox';

// A /proc of made-up processes with pids above pid_max: signals to them fail, as they would to
// a process this user may not kill, so they stay, and the sandbox must call itself tainted.
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-sandbox-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fakeProcess(
  procDir: string,
  pid: number,
  uid: number,
  start = 100,
  threads: Record<number, string> = {},
) {
  mkdirSync(path.join(procDir, String(pid)), { recursive: true });
  const stat = (id: number, state: string) =>
    `${id} (job (x)) ${[state, '1', ...Array.from({ length: 17 }, () => '0'), String(start)].join(' ')}`;
  writeFileSync(path.join(procDir, String(pid), 'stat'), stat(pid, threads[pid] ?? 'S'));
  for (const [tid, state] of Object.entries(threads)) {
    mkdirSync(path.join(procDir, String(pid), 'task', tid), { recursive: true });
    writeFileSync(path.join(procDir, String(pid), 'task', tid, 'stat'), stat(Number(tid), state));
  }
  writeFileSync(
    path.join(procDir, String(pid), 'status'),
    `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`,
  );
  writeFileSync(path.join(procDir, String(pid), 'environ'), '');
}

describe('the sandbox', () => {
  it("keeps other users' processes from init, takes this user's, and is tainted by any it cannot end", async () => {
    const procDir = path.join(base, 'proc');
    const workRoot = path.join(base, 'work');
    mkdirSync(workRoot);
    const me = process.getuid!();
    fakeProcess(procDir, 9_000_001, me + 1); // the platform's, there at init
    fakeProcess(procDir, 9_000_002, me); // this user's at init: a leftover of a killed runtime
    const sandbox = await createSandbox(
      { ownsContainer: true, workRoot, minFreeBytes: 1 },
      procDir,
    );
    fakeProcess(procDir, 9_000_003, me); // a job's
    mkdirSync(path.join(workRoot, 'planted'));
    writeFileSync(path.join(workRoot, 'planted', 'note'), 'x');
    chmodSync(path.join(workRoot, 'planted'), 0o555);

    const report = await sandbox.clean({ tag: 't' });

    expect(report.tainted).toMatch(/processes survived the sweep: /);
    expect(report.tainted).toContain('9000002');
    expect(report.tainted).toContain('9000003');
    expect(report.tainted).not.toContain('9000001');
    // The files went all the same, read-only directory included.
    expect(readdirSync(workRoot)).toEqual([]);
  });

  it('takes a zombie leader whose other thread still runs; a zombie with no live thread is dead', async () => {
    const procDir = path.join(base, 'proc-zombies');
    const workRoot = path.join(base, 'work-zombies');
    mkdirSync(workRoot);
    mkdirSync(procDir);
    const sandbox = await createSandbox(
      { ownsContainer: true, workRoot, minFreeBytes: 1 },
      procDir,
    );
    const me = process.getuid!();
    // Its main thread exited (Z); thread 9000012 runs on: the process is alive.
    fakeProcess(procDir, 9_000_011, me, 100, { 9_000_011: 'Z', 9_000_012: 'S' });
    // Dead, not yet reaped: every thread is Z.
    fakeProcess(procDir, 9_000_021, me, 100, { 9_000_021: 'Z', 9_000_022: 'Z' });
    const report = await sandbox.clean({ tag: 't' });
    expect(report.tainted).toMatch(/processes survived the sweep: 9000011$/);
  });

  it('wipes a tree deeper than PATH_MAX with a read-only directory at its bottom', async () => {
    const procDir = path.join(base, 'proc-deep');
    mkdirSync(procDir);
    const workRoot = path.join(base, 'work-deep');
    mkdirSync(workRoot);
    // Built by relative steps, as a job would: no path to its bottom fits in PATH_MAX.
    const built = execFileSync(
      'bash',
      [
        '-c',
        'cd "$1" && D=$(printf "d%.0s" $(seq 1 200)); for i in $(seq 1 30); do mkdir "$D" && cd "$D"; done; echo x > note; chmod 555 .; pwd | wc -c',
        'deep',
        workRoot,
      ],
      { encoding: 'utf8' },
    );
    expect(Number(built)).toBeGreaterThan(4096);
    const sandbox = await createSandbox(
      { ownsContainer: true, workRoot, minFreeBytes: 1 },
      procDir,
    );
    expect(await sandbox.clean({ tag: 't' })).toEqual({ processesKilled: 0 });
    expect(readdirSync(workRoot)).toEqual([]);
  });

  it('is clean when nothing is left, and tainted when the work root has too little room', async () => {
    const procDir = path.join(base, 'proc-empty');
    mkdirSync(procDir);
    const workRoot = path.join(base, 'work-2');
    mkdirSync(workRoot);
    const roomy = await createSandbox({ ownsContainer: true, workRoot, minFreeBytes: 1 }, procDir);
    expect(await roomy.clean({ tag: 't' })).toEqual({ processesKilled: 0 });
    const cramped = await createSandbox(
      { ownsContainer: true, workRoot, minFreeBytes: Number.MAX_SAFE_INTEGER },
      procDir,
    );
    expect((await cramped.clean({ tag: 't' })).tainted).toMatch(/MB free in the work root/);
    expect(existsSync(workRoot)).toBe(true);
  });
});
