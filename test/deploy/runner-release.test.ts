import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { main } from '../../src/cli';
import { runnerUpdate, type ReleasesRequest, type RunnerRelease } from '../../deploy/runner-update';
import { daysBehind } from '../../deploy/runner-release';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- deploy's CommonJS modules
const { lockRelease, releasesRequest } = require('../../deploy/release-lock') as {
  lockRelease: (input: {
    saved?: RunnerRelease;
    pinned?: string;
    allowStale?: boolean;
    request: ReleasesRequest;
    now?: number;
  }) => Promise<RunnerRelease>;
  releasesRequest: (env: NodeJS.ProcessEnv) => ReleasesRequest;
};
const API = 'https://api.github.com';
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-02T12:00:00Z');
const hex = (seed: string) => seed.repeat(64).slice(0, 64);
/** The digest the fixture gives asset `index` (0 linux-x64, 1 linux-arm64) of `version`. */
const assetDigest = (version: string, index: number) =>
  hex(`${version.replace(/\./g, '')}${index}`);

/** A release as GitHub's API lists it, with each asset's digest. */
function apiRelease(version: string, daysAgo: number, extra: Record<string, unknown> = {}) {
  return {
    tag_name: `v${version}`,
    name: `v${version}`,
    draft: false,
    prerelease: false,
    published_at: new Date(NOW - daysAgo * DAY).toISOString(),
    assets: ['linux-x64', 'linux-arm64', 'osx-x64', 'win-x64'].map((platform, i) => ({
      name: `actions-runner-${platform}-${version}.${platform.startsWith('win') ? 'zip' : 'tar.gz'}`,
      digest: `sha256:${assetDigest(version, i)}`,
    })),
    ...extra,
  };
}

const lock = (version: string, daysAgo: number): RunnerRelease => ({
  version,
  publishedAt: new Date(NOW - daysAgo * DAY).toISOString(),
  sha256: { x64: hex('a'), arm64: hex('b') },
});

function listReleases(releases: unknown[]) {
  return nock(API)
    .get('/repos/actions/runner/releases')
    .query({ per_page: 30 })
    .reply(200, releases);
}

const request = releasesRequest({});

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('runner release: resolved from GitHub, locked, checked', () => {
  it('with no lock, the latest release is resolved with both architectures’ digests from its assets', async () => {
    const github = listReleases([
      apiRelease('2.337.0', 1, { prerelease: true }),
      apiRelease('2.336.0', 5),
      apiRelease('2.335.1', 40),
    ]);
    const locked = await lockRelease({ request, now: NOW });
    expect(locked).toEqual({
      version: '2.336.0',
      publishedAt: new Date(NOW - 5 * DAY).toISOString(),
      sha256: { x64: assetDigest('2.336.0', 0), arm64: assetDigest('2.336.0', 1) },
    });
    expect(github.isDone()).toBe(true);
  });

  it('a stage that pins a version gets that release, read by tag when the list has scrolled past it', async () => {
    listReleases([apiRelease('2.336.0', 5)]);
    nock(API)
      .get('/repos/actions/runner/releases/tags/v2.335.1')
      .reply(200, apiRelease('2.335.1', 20));
    const locked = await lockRelease({ pinned: '2.335.1', request, now: NOW });
    expect(locked.version).toBe('2.335.1');
    expect(locked.sha256.arm64).toBe(assetDigest('2.335.1', 1));
  });

  it('refuses a release below GitHub’s minimum, naming the fix', async () => {
    listReleases([apiRelease('2.336.0', 5)]);
    nock(API)
      .get('/repos/actions/runner/releases/tags/v2.326.0')
      .reply(200, apiRelease('2.326.0', 200));
    await expect(lockRelease({ pinned: '2.326.0', request, now: NOW })).rejects.toThrow(
      /runner 2\.326\.0 is older than 2\.329\.0, GitHub's minimum.*runner-update/,
    );
  });

  it('refuses a lock more than 30 days behind the first newer release, and says how to move on', async () => {
    listReleases([apiRelease('2.336.0', 10), apiRelease('2.335.0', 45), apiRelease('2.334.0', 90)]);
    await expect(lockRelease({ saved: lock('2.334.0', 90), request, now: NOW })).rejects.toThrow(
      /runner 2\.334\.0 is 45 days behind 2\.336\.0.*runner-update.*runnerAllowStale/,
    );
  });

  it('keeps a lock that is behind by less than 30 days: redeploys reproduce it', async () => {
    listReleases([apiRelease('2.336.0', 29), apiRelease('2.335.0', 60)]);
    const saved = lock('2.335.0', 60);
    expect(await lockRelease({ saved, request, now: NOW })).toEqual(saved);
  });

  it('an air-gapped stage that allows a stale runner asks GitHub nothing and keeps its lock', async () => {
    const github = listReleases([]);
    const saved = lock('2.330.0', 300);
    expect(await lockRelease({ saved, allowStale: true, request, now: NOW })).toEqual(saved);
    expect(github.isDone()).toBe(false);
  });

  it('GitHub unreachable: one message that says what to check', async () => {
    nock(API).get('/repos/actions/runner/releases').query(true).reply(503, 'down');
    await expect(lockRelease({ request, now: NOW })).rejects.toThrow(
      /could not read the runner's releases from GitHub.*RUNNER_RELEASES_API_URL/,
    );
  });

  it('days behind run from the first newer release, and are 0 for the latest', () => {
    const releases = [lock('2.336.0', 3), lock('2.335.0', 25), lock('2.334.0', 70)];
    expect(daysBehind('2.336.0', releases, NOW)).toBe(0);
    expect(daysBehind('2.335.0', releases, NOW)).toBe(3);
    expect(daysBehind('2.334.0', releases, NOW)).toBe(25);
  });
});

describe('lambda-runner runner-update --stage S', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const stagesDir = () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'lambda-runner-update-'));
    made.push(parent);
    const dir = path.join(parent, 'stages');
    mkdirSync(dir);
    return dir;
  };

  it('moves the lock to the latest release, keeps the rest of the stage file, and says what changed', async () => {
    const dir = stagesDir();
    const file = path.join(dir, 'prod.json');
    writeFileSync(
      file,
      JSON.stringify({ region: 'eu-west-1', runnerRelease: lock('2.335.0', 40) }, null, 2),
    );
    listReleases([apiRelease('2.336.0', 12), apiRelease('2.335.0', 40)]);
    const lines: string[] = [];
    const code = await main(['runner-update', '--stage', 'prod'], (line) => lines.push(line), {
      LAMBDA_RUNNER_STAGES_DIR: dir,
    });
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^runner 2\.335\.0 -> 2\.336\.0 \(published 2026-11-20/);
    expect(lines).toContain(`x64 sha256 ${assetDigest('2.336.0', 0)}`);
    expect(lines).toContain(`arm64 sha256 ${assetDigest('2.336.0', 1)}`);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.region).toBe('eu-west-1');
    expect(saved.runnerRelease).toMatchObject({
      version: '2.336.0',
      sha256: { x64: assetDigest('2.336.0', 0), arm64: assetDigest('2.336.0', 1) },
    });
  });

  it('already current: says so and leaves the file alone', async () => {
    const dir = stagesDir();
    listReleases([apiRelease('2.336.0', 12)]);
    const first: string[] = [];
    await runnerUpdate('dev', {
      env: { LAMBDA_RUNNER_STAGES_DIR: dir },
      print: (l) => first.push(l),
      request,
    });
    expect(first[0]).toMatch(/^locked runner 2\.336\.0/);
    listReleases([apiRelease('2.336.0', 12)]);
    const again: string[] = [];
    const code = await runnerUpdate('dev', {
      env: { LAMBDA_RUNNER_STAGES_DIR: dir },
      print: (l) => again.push(l),
      request,
    });
    expect(code).toBe(0);
    expect(again).toEqual([
      expect.stringMatching(/^runner 2\.336\.0 is already the latest release/),
    ]);
  });

  it('a latest release without a published digest is not locked', async () => {
    const dir = stagesDir();
    listReleases([{ ...apiRelease('2.336.0', 1), assets: [] }]);
    const lines: string[] = [];
    const code = await runnerUpdate('dev', {
      env: { LAMBDA_RUNNER_STAGES_DIR: dir },
      print: (l) => lines.push(l),
      request,
    });
    expect(code).toBe(1);
    expect(lines).toContain('the lock is unchanged');
    expect(existsSync(path.join(dir, 'dev.json'))).toBe(false);
  });

  it('without --stage: a usage error that names the option', async () => {
    const lines: string[] = [];
    expect(await main(['runner-update'], (line) => lines.push(line), {})).toBe(2);
    expect(lines).toEqual([
      'lambda-runner: runner-update: --stage is required (the stage whose lock moves)',
    ]);
  });
});
