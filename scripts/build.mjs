// Bundles the two Lambda handlers and the local app with esbuild.
import { chmodSync, createWriteStream, readFileSync, rmSync } from 'node:fs';
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

/** Fails the build when a bundle would pull in a module matching `pattern`. */
function refuse(pattern) {
  return {
    name: 'refuse',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const target = args.path.startsWith('.')
          ? path.resolve(args.resolveDir, args.path)
          : args.path;
        if (!pattern.test(target)) return undefined;
        return {
          errors: [
            {
              text: `${args.importer} imports ${args.path}: the runner bundle must hold no App auth or secret code`,
            },
          ],
        };
      });
    },
  };
}

rmSync('dist', { recursive: true, force: true });

await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'src/lambda.ts' },
    outdir: 'dist/webhook',
    // The webhook Lambda hands jobs to the broker; the in-process broker and runner are for `npm start` only.
    external: ['./src/local-mode'],
    plugins: [webhookSlim],
  }),
  build({
    ...common,
    entryPoints: {
      index: 'runner/index.ts',
      'prepare-layout': 'runner/prepare-layout.ts',
      codebuild: 'runner/codebuild.ts',
    },
    outdir: 'dist/runner',
    // The sandbox side: nothing that signs as the App may end up in its bundle.
    plugins: [refuse(/^@octokit\/auth-app$|\/src\/(broker|secret-source|aws-clients)/)],
  }),
  build({ ...common, entryPoints: { index: 'src/broker/index.ts' }, outdir: 'dist/broker' }),
  // serverless offline's broker and runner: what Lambda adds (destinations, retries) done by hand.
  build({
    ...common,
    entryPoints: { handlers: 'deploy/offline-handlers.ts' },
    outdir: 'dist/offline',
  }),
  build({
    ...common,
    entryPoints: { cli: 'src/cli.ts' },
    outdir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
    // deploy/routing.js reads deploy's own files (stages, profiles) where they are.
    external: ['../deploy/routing'],
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
for (const name of ['webhook', 'broker']) {
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
