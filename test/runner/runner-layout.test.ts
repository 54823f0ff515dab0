import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareRunnerRoot } from '../../runner/runner-layout';
import { PRISTINE_TREE, createFakeRunnerTree } from '../support/fake-runner-tree';

const base = mkdtempSync(path.join(tmpdir(), 'lambda-runner-layout-'));
const source = path.join(base, 'source');

beforeAll(() => createFakeRunnerTree(source));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('prepareRunnerRoot', () => {
  it('link: real root, bin and runner programs; read-only links for the rest', async () => {
    const root = path.join(base, 'link', 'runner');
    await prepareRunnerRoot(source, root, 'link');

    expect(lstatSync(path.join(root, 'bin')).isDirectory()).toBe(true);
    for (const name of [
      'Runner.Listener',
      'Runner.Worker',
      'Runner.PluginHost',
      'Runner.Listener.dll',
      'config.sh',
      'env.sh',
    ]) {
      const where = name.startsWith('Runner.')
        ? path.join(root, 'bin', name)
        : path.join(root, name);
      expect([name, lstatSync(where).isSymbolicLink()]).toEqual([name, false]);
    }
    expect(lstatSync(path.join(root, 'externals')).isSymbolicLink()).toBe(true);
    expect(realpathSync(path.join(root, 'bin', 'System.Runtime.0.dll'))).toBe(
      path.join(source, 'bin', 'System.Runtime.0.dll'),
    );
    expect(lstatSync(path.join(root, 'bin', 'hashFiles')).isSymbolicLink()).toBe(true);
  });

  it('link: the listener finds its root in the work dir and writes nothing to the source', async () => {
    const root = path.join(base, 'link-run', 'runner');
    await prepareRunnerRoot(source, root, 'link');
    const version = execFileSync(path.join(root, 'bin', 'Runner.Listener'), ['--version'], {
      encoding: 'utf8',
    });
    expect(version.trim()).toBe('2.330.0');
    execFileSync(
      path.join(root, 'config.sh'),
      ['--url', 'https://github.com/a/b', '--token', 't', '--name', 'n', '--unattended'],
      {
        env: { ...process.env, FAKE_RUNNER_RECORD: '' },
      },
    );
    expect(readdirSync(root)).toEqual(
      expect.arrayContaining(['.runner', '.credentials', '.env', '.path']),
    );
    expect(readdirSync(source).sort()).toEqual(PRISTINE_TREE);
  });

  it('a linked config.sh would configure the source instead: the reason scripts are copied', async () => {
    const scratch = path.join(base, 'scratch-source');
    await createFakeRunnerTree(scratch);
    const root = path.join(base, 'naive', 'runner');
    await prepareRunnerRoot(scratch, root, 'link');
    rmSync(path.join(root, 'config.sh'));
    symlinkSync(path.join(scratch, 'config.sh'), path.join(root, 'config.sh'));
    execFileSync(path.join(root, 'config.sh'), [
      '--url',
      'u',
      '--token',
      't',
      '--name',
      'n',
      '--unattended',
    ]);
    expect(readdirSync(scratch)).toContain('.runner');
    expect(readdirSync(root)).not.toContain('.runner');
  });

  it('copy: a full copy that runs the same', async () => {
    const root = path.join(base, 'copy', 'runner');
    await prepareRunnerRoot(source, root, 'copy');
    expect(lstatSync(path.join(root, 'externals')).isSymbolicLink()).toBe(false);
    expect(
      execFileSync(path.join(root, 'bin', 'Runner.Listener'), ['--version'], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('2.330.0');
  });
});

describe('the image build check (dist/runner/prepare-layout.js)', () => {
  beforeAll(() => {
    if (!existsSync('dist/runner/prepare-layout.js')) execFileSync('node', ['scripts/build.mjs']);
  });

  it('lays out a root from which the listener starts, and fails on bad arguments', () => {
    const root = path.join(base, 'image-check', 'runner');
    execFileSync('node', ['dist/runner/prepare-layout.js', source, root, 'link']);
    expect(
      execFileSync(path.join(root, 'bin', 'Runner.Listener'), ['--version'], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('2.330.0');
    expect(() =>
      execFileSync('node', ['dist/runner/prepare-layout.js', source], { stdio: 'pipe' }),
    ).toThrow(/usage: prepare-layout/);
  });
});
