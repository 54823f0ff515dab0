// P3: invocation -> listener spawned, for the default `link` layout vs `cp -a` of the whole
// runner (the old way), measured in the same run on a realistic tree. Prints the ratio.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { prepareRunnerRoot } from '../runner/runner-layout';
import { createRealisticRunnerTree } from './runner-tree';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/** Starts the listener from `root` and resolves when it has printed its first line. */
function spawnListener(root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'bin', 'Runner.Listener'), ['--version'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.once('data', () => resolve());
    child.on('error', reject);
  });
}

async function time(
  prepare: (root: string) => Promise<void>,
  work: string,
  round: number,
): Promise<number> {
  const root = path.join(work, `round-${round}`, 'runner');
  const started = process.hrtime.bigint();
  await prepare(root);
  await spawnListener(root);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  await rm(path.dirname(root), { recursive: true, force: true });
  return elapsed;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

export async function benchRunnerPrep() {
  const base = await mkdtemp(path.join(tmpdir(), 'lambda-runner-bench-'));
  try {
    const source = path.join(base, 'actions-runner');
    const tree = await createRealisticRunnerTree(source);
    const work = path.join(base, 'work');
    const copyAll = async (root: string) => {
      await promisify(execFile)('mkdir', ['-p', path.dirname(root)]);
      await promisify(execFile)('cp', ['-a', source, root]);
    };
    const link = (root: string) => prepareRunnerRoot(source, root, 'link');
    const linkTimes: number[] = [];
    const copyTimes: number[] = [];
    await time(link, work, -1); // warm-up: page cache and module loading
    for (let round = 0; round < ROUNDS; round += 1) {
      // Alternate, so a slow moment of a shared machine hits both alike.
      copyTimes.push(await time(copyAll, work, round * 2));
      linkTimes.push(await time(link, work, round * 2 + 1));
    }
    return {
      tree,
      link: median(linkTimes),
      copy: median(copyTimes),
      ratio: median(linkTimes) / median(copyTimes),
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchRunnerPrep().then((result) => {
    console.log(
      `runner tree: ${result.tree.files} files, ${(result.tree.bytes / 1e6).toFixed(0)} MB (synthetic)`,
    );
    console.log(`invocation -> listener spawned, median of ${ROUNDS}:`);
    console.log(`  link layout (default): ${result.link.toFixed(1)} ms`);
    console.log(`  cp -a whole tree:      ${result.copy.toFixed(1)} ms`);
    console.log(`  ratio link / copy:     ${result.ratio.toFixed(3)} (goal <= 0.25)`);
  });
}
