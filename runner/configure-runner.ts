import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { LambdaRunnerError } from '../src/errors';

export interface ConfigureOptions {
  readonly root: string;
  readonly url: string;
  readonly token: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly group?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}

/**
 * Token mode: registers the runner with `config.sh` (ephemeral, no self-update, unattended) and
 * returns the runner id it saved in `.runner`, so the registration can be deleted later.
 */
export async function configureRunner(options: ConfigureOptions): Promise<number | undefined> {
  const args = ['--url', options.url, '--token', options.token, '--name', options.name];
  args.push('--labels', options.labels.join(','), '--work', '_work');
  if (options.group) args.push('--runnergroup', options.group);
  args.push('--ephemeral', '--disableupdate', '--unattended');
  try {
    await promisify(execFile)(path.join(options.root, 'config.sh'), args, {
      cwd: options.root,
      env: options.env,
      timeout: options.timeoutMs,
    });
  } catch (error) {
    // The message would repeat the command line, registration token included: keep only the output.
    const {
      stdout = '',
      stderr = '',
      code,
    } = error as { stdout?: string; stderr?: string; code?: unknown };
    const output = `${stdout}\n${stderr}`.split(options.token).join('***').trim();
    throw new LambdaRunnerError(
      `lambda-runner: config.sh failed (exit ${String(code)}): ${output}`,
    );
  }
  return readRunnerId(options.root);
}

/** The runner id the listener saved in `<root>/.runner` (`agentId`), if any. */
export async function readRunnerId(root: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path.join(root, '.runner'), 'utf8')).replace(/^\uFEFF/, '');
    const id = (JSON.parse(text) as { agentId?: unknown }).agentId;
    return typeof id === 'number' ? id : Number(id) || undefined;
  } catch {
    return undefined;
  }
}
