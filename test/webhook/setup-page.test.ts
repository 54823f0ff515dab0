import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../e2e/local-stack';

const root = path.resolve(__dirname, '../..');

/** `npm start` with no App yet: Probot's setup page, whose button sends the manifest to GitHub. */
async function setupManifest(env: Record<string, string>) {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    // No App configured (an empty value is not overridden by a local .env), no smee channel.
    env: {
      ...process.env,
      APP_ID: '',
      PRIVATE_KEY: '',
      PORT: String(port),
      NO_SMEE_SETUP: 'true',
      LOG_LEVEL: 'warn',
      ...env,
    },
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const page = await fetch(`http://127.0.0.1:${port}/probot`).then(
        async (answer) => answer.text(),
        () => undefined,
      );
      if (page !== undefined) {
        const manifest = /name="manifest" id="manifest" value='([^']*)'/.exec(page)?.[1];
        const action = /action="([^"]*)"/.exec(page)?.[1];
        return { manifest: JSON.parse(manifest ?? '{}') as Record<string, any>, action }; // eslint-disable-line @typescript-eslint/no-explicit-any -- GitHub's manifest JSON
      }
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the setup page never answered');
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

beforeAll(() => {
  if (!existsSync(path.join(root, 'dist/app.js')))
    throw new Error('run npm run build first: npm start serves dist/app.js');
});

describe("npm start's setup page asks GitHub only for the chosen scope's runner permission", () => {
  it('repository scope: administration write, no organisation runner permission', async () => {
    const { manifest } = await setupManifest({});
    expect(manifest.default_permissions).toEqual({
      actions: 'read',
      administration: 'write',
      metadata: 'read',
    });
    expect(manifest.default_events).toEqual(['workflow_job']);
  }, 90_000);

  it('organisation scope (GH_ORG): organisation runners write, no repository administration', async () => {
    const { manifest, action } = await setupManifest({ GH_ORG: 'acme' });
    expect(manifest.default_permissions).toEqual({
      actions: 'read',
      organization_self_hosted_runners: 'write',
      metadata: 'read',
    });
    expect(action).toContain('/organizations/acme/settings/apps/new');
  }, 90_000);
});
