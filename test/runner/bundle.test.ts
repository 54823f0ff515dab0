import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

describe('the runner bundle (what the image carries into the sandbox)', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist/runner/index.js')))
      execFileSync('node', ['scripts/build.mjs'], { cwd: root });
  }, 120_000);

  it('holds no App auth code, no JWT signing and no key', () => {
    const bundle = readFileSync(path.join(root, 'dist/runner/index.js'), 'utf8');
    expect(bundle.length).toBeGreaterThan(10_000);
    for (const needle of [
      'createAppAuth',
      'BEGIN RSA',
      'PRIVATE KEY-----',
      'jsonwebtoken',
      'RS256',
      'secretsmanager',
    ])
      expect({ needle, found: bundle.includes(needle) }).toEqual({ needle, found: false });
  });

  it('while the broker bundle does sign as the App', () => {
    const broker = readFileSync(path.join(root, 'dist/broker/index.js'), 'utf8');
    expect(broker).toContain('createAppAuth');
  });
});
