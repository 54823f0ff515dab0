// Makes `npx lambda-runner` work inside this repository too (npm links the bins of
// dependencies, not the project's own): node_modules/.bin/lambda-runner -> dist/cli.js.
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';

mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/lambda-runner', { force: true });
symlinkSync('../../dist/cli.js', 'node_modules/.bin/lambda-runner');
