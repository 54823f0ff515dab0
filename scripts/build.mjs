// Bundles the two Lambda handlers and the local app with esbuild.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'src/lambda.ts' },
    outdir: 'dist/webhook',
    // The webhook Lambda dispatches by invoke; the in-process runner is for `npm start` only.
    external: ['./runner/local'],
  }),
  build({
    ...common,
    entryPoints: { index: 'runner/index.ts', 'prepare-layout': 'runner/prepare-layout.ts' },
    outdir: 'dist/runner',
  }),
  build({
    ...common,
    entryPoints: { app: 'app.ts' },
    outdir: 'dist',
    // `probot run` loads this file with its own Probot; dependencies come from node_modules.
    packages: 'external',
  }),
]);
