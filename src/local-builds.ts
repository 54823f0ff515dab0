import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import type { Logger } from 'pino';
import { sweepProcesses } from '../runner/sweep-processes';
import type { BuildStateChange } from './broker/settle-runner';

/** How a local build ended, in CodeBuild's words. */
export type BuildStatus = 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'STOPPED' | 'TIMED_OUT';

export interface LocalBuildsOptions {
  /** The build runner entry (dist/runner/codebuild.js), run with this Node. */
  readonly entry: string;
  /** The project's environment: what the image and the project's variables give every build. */
  readonly env: NodeJS.ProcessEnv;
  /** Where each build's end goes, as CodeBuild's state change event (EventBridge's shape). */
  readonly onEnd: (event: BuildStateChange) => unknown;
  readonly log: Logger;
  /** Where the builds' output goes (their CloudWatch log); this process's own by default. */
  readonly output?: NodeJS.WritableStream;
  /** Account and region the events and build ARNs name. */
  readonly account?: string;
  readonly region?: string;
}

export interface LocalBuild {
  readonly id: string;
  readonly projectName: string;
  readonly variables: readonly { name: string; value: string }[];
  /** Ends the build as CodeBuild's StopBuild does: the runner is killed, the build STOPPED. */
  stop(): void;
  /** Ends the build as its timeout passing does: the runner is killed, the build TIMED_OUT. */
  timeOut(): void;
  /** Resolves with the build's status once its end event was handed on. */
  readonly ended: Promise<BuildStatus>;
}

/**
 * CodeBuild on this host, for local mode and the local stack: `start` takes StartBuild's input
 * and runs the build runner entry as a child process with the build's variables (the project's
 * own, then the overrides) and CodeBuild's own (`CODEBUILD_BUILD_ID`, `CODEBUILD_START_TIME`).
 * The build ends SUCCEEDED when the entry exits 0, FAILED otherwise, TIMED_OUT when its timeout
 * (`LAMBDA_RUNNER_TIMEOUT_SECONDS`, as the project's would be) passes first, STOPPED when
 * stopped; then the state change event, carrying the build's variables as CodeBuild's does,
 * goes to `onEnd`. This host is no fresh machine: like local mode, for trying things out.
 */
export function createLocalBuilds(options: LocalBuildsOptions) {
  const builds = new Map<string, LocalBuild>();
  const byToken = new Map<string, string>();
  const start = (input: StartBuildCommandInput): LocalBuild => {
    const known = input.idempotencyToken ? byToken.get(input.idempotencyToken) : undefined;
    if (known) return builds.get(known)!;
    const build = runBuild(input, options);
    builds.set(build.id, build);
    if (input.idempotencyToken) byToken.set(input.idempotencyToken, build.id);
    return build;
  };
  return {
    start,
    builds,
    /** A CodeBuild client's `send` for StartBuild, as the broker's CodeBuild executor calls it. */
    send: async (command: { input: unknown }) => {
      const build = start(command.input as StartBuildCommandInput);
      return { build: { id: build.id, projectName: build.projectName } };
    },
  };
}

function runBuild(input: StartBuildCommandInput, options: LocalBuildsOptions): LocalBuild {
  const projectName = input.projectName ?? 'local';
  const id = `${projectName}:${randomUUID()}`;
  const variables = (input.environmentVariablesOverride ?? []).map((variable) => ({
    name: variable.name ?? '',
    value: variable.value ?? '',
  }));
  const own = Object.fromEntries(variables.map((variable) => [variable.name, variable.value]));
  const child = spawn(process.execPath, [options.entry], {
    env: {
      ...options.env,
      ...own,
      CODEBUILD_BUILD_ID: id,
      CODEBUILD_START_TIME: String(Date.now()),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log = options.log.child({ buildId: id });
  child.stdout?.on('data', (chunk: Buffer) => (options.output ?? process.stdout).write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => (options.output ?? process.stderr).write(chunk));
  let ending: BuildStatus | undefined;
  // CodeBuild discards the build's container: every process of the build goes (the runner's
  // sweep, by the build's id in their environment), its end told once they are gone.
  let swept: Promise<unknown> = Promise.resolve();
  const kill = (status: BuildStatus) => {
    ending ??= status;
    swept = sweepProcesses({ marker: `CODEBUILD_BUILD_ID=${id}` }).catch((error: unknown) => {
      // No /proc to sweep (not Linux): the build's own process group, at least.
      log.warn({ err: error }, 'could not sweep the processes of a stopped build');
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  };
  const timeoutMs = (Number(own.LAMBDA_RUNNER_TIMEOUT_SECONDS) || 3600) * 1000;
  const timer = setTimeout(() => kill('TIMED_OUT'), timeoutMs);
  const ended = new Promise<BuildStatus>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      const status = ending ?? (code === 0 ? 'SUCCEEDED' : 'FAILED');
      log.info({ status, exitCode: code }, 'local build ended');
      swept
        .then(() => options.onEnd(stateChange(id, projectName, status, variables, options)))
        .catch((error: unknown) => log.error({ err: error }, 'a build end was not delivered'))
        .finally(() => resolve(status));
    });
  });
  log.info({ projectName }, 'local build started');
  return {
    id,
    projectName,
    variables,
    stop: () => kill('STOPPED'),
    timeOut: () => kill('TIMED_OUT'),
    ended,
  };
}

/** CodeBuild's "CodeBuild Build State Change" event for a build that ended. */
export function stateChange(
  id: string,
  projectName: string,
  status: BuildStatus,
  variables: readonly { name: string; value: string }[],
  where: { account?: string; region?: string } = {},
): BuildStateChange {
  const account = where.account ?? '000000000000';
  const region = where.region ?? 'us-east-1';
  const arn = `arn:aws:codebuild:${region}:${account}:build/${id}`;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    account,
    time: new Date().toISOString(),
    region,
    resources: [arn],
    detail: {
      'build-status': status,
      'project-name': projectName,
      'build-id': arn,
      'current-phase': 'COMPLETED',
      'additional-information': {
        'build-complete': true,
        environment: {
          'environment-variables': variables.map((variable) => ({
            ...variable,
            type: 'PLAINTEXT',
          })),
        },
      },
    },
  } as BuildStateChange;
}
