// Makes `npx lambda-runner` work inside this repository too (npm links the bins of
// dependencies, not the project's own): node_modules/.bin/lambda-runner -> bin/lambda-runner.js (which builds dist/ if it is missing).
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';

mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/lambda-runner', { force: true });
symlinkSync('../../bin/lambda-runner.js', 'node_modules/.bin/lambda-runner');
