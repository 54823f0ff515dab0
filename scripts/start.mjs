// `npm start`: Probot's own logger is built from LOG_LEVEL before lambda-runner's app runs,
// and an unknown level makes it throw deep inside pino. Check it first (from the environment
// or .env, as Probot reads them), then hand over to `probot run`.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const env = { ...process.env };
require('dotenv').config({ processEnv: env, quiet: true });
const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const level = env.LOG_LEVEL?.trim();
if (level && !levels.includes(level)) {
  console.error(
    `lambda-runner: invalid configuration:\n  - LOG_LEVEL must be one of ${levels.join(', ')}, got "${level}"`,
  );
  process.exit(1);
}
const probot = require.resolve('probot/bin/probot.js');
// The setup page's manifest asks only for the chosen scope's runner permission.
const scopeManifest = require.resolve('./scope-manifest.cjs');
process.exit(
  spawnSync(process.execPath, ['--require', scopeManifest, probot, 'run', './dist/app.js'], {
    stdio: 'inherit',
  }).status ?? 1,
);
