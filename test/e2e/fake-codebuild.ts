import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import pino from 'pino';
import { createLocalBuilds, stateChange, type BuildStatus } from '../../src/local-builds';
import type { BuildStateChange } from '../../src/broker/settle-runner';
import { invokeBroker } from './local-stack';

/** What a build does, by its runner's name: CodeBuild's own failure modes. */
export type BuildScenario =
  /** The build fails before its runner starts (provisioning, image pull): FAILED, no runner. */
  | 'fault'
  /** The build runs past its timeout: killed after `timeoutMs`, TIMED_OUT. */
  | { timeoutMs: number }
  /** Someone stops the build after `afterMs`: STOPPED. */
  | { stopAfterMs: number };

/**
 * CodeBuild for the local stack: its JSON API (StartBuild, BatchGetBuilds) at `url`, each build
 * the build runner entry as a child process (src/local-builds.ts), and each build's end sent to
 * the broker as EventBridge would: its state change event, invoked asynchronously on the broker.
 */
export class FakeCodeBuild {
  url = '';
  lambdaUrl = '';
  readonly started: { projectName: string; runnerName: string; buildId: string }[] = [];
  readonly ended = new Map<string, BuildStatus>();
  readonly scenarios = new Map<string, BuildScenario>();
  private server: Server | undefined;
  private output: WriteStream;
  private builds: ReturnType<typeof createLocalBuilds>;

  constructor(readonly options: { entry: string; env: NodeJS.ProcessEnv; logDir: string }) {
    this.output = createWriteStream(path.join(options.logDir, 'codebuild.log'));
    this.builds = createLocalBuilds({
      entry: options.entry,
      env: options.env,
      output: this.output,
      log: pino({ level: 'info' }, this.output),
      onEnd: (event) => this.deliver(event),
    });
  }

  /** The log the builds wrote (their runners' output), as CloudWatch would keep it. */
  get logFile(): string {
    return path.join(this.options.logDir, 'codebuild.log');
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '').split('.')[1];
        const answer = this.answer(target ?? '', JSON.parse(body || '{}'));
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const build of this.builds.builds.values()) build.stop();
    await Promise.all([...this.builds.builds.values()].map((build) => build.ended));
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
    this.output.end();
  }

  private answer(target: string, input: Record<string, unknown>) {
    if (target === 'StartBuild') return { status: 200, body: { build: this.startBuild(input) } };
    if (target === 'BatchGetBuilds') {
      const ids = (input.ids as string[] | undefined) ?? [];
      const builds = ids.map((id) => ({ id, buildStatus: this.ended.get(id) ?? 'IN_PROGRESS' }));
      return { status: 200, body: { builds, buildsNotFound: [] } };
    }
    return {
      status: 400,
      body: { __type: 'InvalidInputException', message: `${target} is not faked` },
    };
  }

  private startBuild(input: Record<string, unknown>) {
    const variables = (input.environmentVariablesOverride ?? []) as {
      name: string;
      value: string;
    }[];
    const projectName = String(input.projectName);
    const runnerName = runnerOf(variables);
    const scenario = this.scenarios.get(runnerName);
    const id =
      scenario === 'fault'
        ? this.fault(projectName, runnerName, variables)
        : this.run(input, scenario);
    this.started.push({ projectName, runnerName, buildId: id });
    return { id, projectName, buildStatus: 'IN_PROGRESS' };
  }

  /** A build that fails before its runner starts: its end event alone. */
  private fault(projectName: string, runnerName: string, variables: Variable[]): string {
    const id = `${projectName}:fault-${runnerName}`;
    const event = stateChange(id, projectName, 'FAILED', variables);
    setTimeout(() => void this.deliver(event), 50);
    return id;
  }

  private run(input: Record<string, unknown>, scenario: BuildScenario | undefined): string {
    const build = this.builds.start(input as unknown as StartBuildCommandInput);
    if (typeof scenario === 'object' && 'timeoutMs' in scenario)
      setTimeout(() => build.timeOut(), scenario.timeoutMs);
    if (typeof scenario === 'object' && 'stopAfterMs' in scenario)
      setTimeout(() => build.stop(), scenario.stopAfterMs);
    return build.id;
  }

  /** EventBridge's rule: the event, invoked asynchronously on the broker. */
  private async deliver(event: BuildStateChange) {
    const id = String(event.detail?.['build-id']).split('build/')[1] ?? '';
    this.ended.set(id, event.detail?.['build-status'] as BuildStatus);
    await invokeBroker(this.lambdaUrl, event);
  }
}

type Variable = { name: string; value: string };

/** The runner name in a build's sealed payload variable. */
function runnerOf(variables: Variable[]): string {
  const payload = variables.find((variable) => variable.name === 'LAMBDA_RUNNER_PAYLOAD');
  return (JSON.parse(payload?.value ?? '{}') as { runnerName?: string }).runnerName ?? '';
}
