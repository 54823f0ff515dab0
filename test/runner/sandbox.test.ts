import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandbox } from '../../runner/sandbox';

// A /proc of made-up processes with pids above pid_max: signals to them fail, as they would to
// a process this user may not kill, so they stay, and the sandbox must call itself tainted.
const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-sandbox-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fakeProcess(procDir: string, pid: number, uid: number, start = 100) {
  mkdirSync(path.join(procDir, String(pid)), { recursive: true });
  const fields = ['S', '1', ...Array.from({ length: 17 }, () => '0'), String(start)];
  writeFileSync(path.join(procDir, String(pid), 'stat'), `${pid} (job (x)) ${fields.join(' ')}`);
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
