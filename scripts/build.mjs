// Bundles the two Lambda handlers and the local app with esbuild.
import { chmodSync, createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import yazl from 'yazl';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Keeps what the webhook Lambda never runs out of its bundle (and its cold start): Probot's
 * server, express, setup app and CLI, the full ProbotOctokit and the pretty log transport.
 */
const webhookSlim = {
  name: 'webhook-slim',
  setup(build) {
    const stub = (name) => ({ path: path.resolve('scripts/webhook-bundle', name) });
    build.onResolve({ filter: /^probot$/ }, () => stub('probot.js'));
    build.onResolve({ filter: /^\.\/server\/server\.js$/ }, (args) =>
      args.importer.includes(`probot${path.sep}lib`) ? stub('server.js') : undefined,
    );
    build.onResolve({ filter: /^\.\/octokit\/probot-octokit\.js$/ }, (args) =>
      args.importer.endsWith(`probot${path.sep}lib${path.sep}probot.js`)
        ? stub('probot-octokit.js')
        : undefined,
    );
    build.onResolve({ filter: /^\.\/get-octokit-throttle-options\.js$/ }, (args) =>
      args.importer.includes(`probot${path.sep}lib`) ? stub('throttle-options.js') : undefined,
    );
    build.onResolve({ filter: /^\.\/helpers\/get-log\.js$/ }, (args) =>
      args.importer.endsWith(`probot${path.sep}lib${path.sep}probot.js`)
        ? stub('get-log.js')
        : undefined,
    );
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'src/lambda.ts' },
    outdir: 'dist/webhook',
    // The webhook Lambda dispatches by invoke; the in-process runner is for `npm start` only.
    external: ['./runner/local'],
    plugins: [webhookSlim],
  }),
  build({
    ...common,
    entryPoints: { index: 'runner/index.ts', 'prepare-layout': 'runner/prepare-layout.ts' },
    outdir: 'dist/runner',
  }),
  build({ ...common, entryPoints: { index: 'runner/janitor-index.ts' }, outdir: 'dist/janitor' }),
  build({
    ...common,
    entryPoints: { cli: 'src/cli.ts' },
    outdir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({
    ...common,
    entryPoints: { app: 'app.ts' },
    outdir: 'dist',
    // `probot run` loads this file with its own Probot; dependencies come from node_modules.
    packages: 'external',
  }),
]);

// Deployment artifacts: each handler at `<name>/index.js`, as serverless.yml names it.
for (const name of ['webhook', 'janitor']) {
  await new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    const mtime = new Date('2020-01-01T00:00:00Z'); // a stable zip for a stable bundle
    zip.addBuffer(readFileSync(`dist/${name}/index.js`), `${name}/index.js`, {
      mtime,
      mode: 0o644,
    });
    zip.outputStream
      .pipe(createWriteStream(`dist/lambda-${name}.zip`))
      .on('close', resolve)
      .on('error', reject);
    zip.end();
  });
}

chmodSync('dist/cli.js', 0o755);
