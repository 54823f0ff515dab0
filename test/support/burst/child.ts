import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BurstOptions, BurstReport } from './burst';

/**
 * Runs one burst in a process of its own. Octokit's throttling keeps limiters at module level,
 * and a simulation's virtual clock leaves their timers behind when it is uninstalled: a second
 * burst in the same process would inherit them. One process per burst keeps runs apart.
 */
export async function runBurstApart(options: BurstOptions): Promise<BurstReport> {
  const entry = path.join(__dirname, 'main.ts');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', entry, JSON.stringify(options)],
    { cwd: path.resolve(__dirname, '../../..'), maxBuffer: 16 * 1024 * 1024 },
  );
  const line = stdout.split('\n').find((candidate) => candidate.startsWith('{"jobs"'));
  if (!line) throw new Error(`the burst printed no report:\n${stdout.slice(-2000)}`);
  return JSON.parse(line) as BurstReport;
}
