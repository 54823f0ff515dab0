/* eslint-disable @typescript-eslint/no-explicit-any -- generated CloudFormation is untyped JSON; the tests walk it freely */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type Template = {
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, any>; Condition?: string; DependsOn?: unknown }
  >;
  Outputs: Record<string, any>;
  Conditions?: Record<string, unknown>;
};

export const root = path.resolve(__dirname, '../..');

/** A scratch folder for packages, and for stage files (so tests never write deploy/stages/). */
export function packageWorkDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'lambda-runner-package-'));
}

export interface PackOptions {
  readonly args?: string[];
  readonly env?: Record<string, string>;
  readonly stage?: string;
}

/**
 * Runs the real `serverless package` (osls) for a stage and returns the CloudFormation it wrote
 * and where. Stage files go to `<work>/stages` unless the env says otherwise.
 */
export function pack(
  work: string,
  name: string,
  options: PackOptions = {},
): { template: Template; file: string } {
  const { args = [], env = {}, stage = 'citest' } = options;
  if (!existsSync(path.join(root, 'dist/lambda-webhook.zip')))
    execFileSync('node', ['scripts/build.mjs'], { cwd: root });
  const out = path.join(work, name);
  try {
    execFileSync(
      path.join(root, 'node_modules/.bin/serverless'),
      ['package', '--stage', stage, '--package', out, ...args],
      {
        cwd: path.join(root, 'deploy'),
        env: {
          ...process.env,
          SLS_TELEMETRY_DISABLED: '1',
          LAMBDA_RUNNER_STAGES_DIR: path.join(work, 'stages'),
          ...env,
        },
        stdio: 'pipe',
      },
    );
  } catch (error) {
    throw packageError(error);
  }
  const file = path.join(out, 'cloudformation-template-update-stack.json');
  return { template: JSON.parse(readFileSync(file, 'utf8')), file };
}

function packageError(error: unknown): Error {
  const { stdout = '', stderr = '' } = error as { stdout?: Buffer; stderr?: Buffer };
  return new Error(`serverless package failed:\n${stdout.toString()}\n${stderr.toString()}`);
}
