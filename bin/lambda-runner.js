#!/usr/bin/env node
// The `lambda-runner` command. It runs the built CLI, and builds it first when `npm ci` left
// no dist/ yet, so the command works right after install.
'use strict';
const { existsSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lambda-runner: first run, building (npm run build)...\n');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
Promise.resolve(require(cli).main(process.argv.slice(2))).then(
  (code) => (process.exitCode = code),
  (error) => {
    process.stderr.write(`lambda-runner: ${error.message}\n`);
    process.exitCode = 2;
  },
);
