import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { appKeys } from '../support/github-app';
import { TEST_SECRET } from '../support/webhook-events';
import { FakeGitHub } from './fake-github';
import { createControlTable } from '../support/dynalite';

const root = path.resolve(__dirname, '../..');

/**
 * Where a suite's stage logs go: kept after the run (a failure on a loaded machine is read from
 * them), replaced by the suite's next run from the same checkout, apart from other checkouts'.
 */
export function suiteLogDir(suite: string): string {
  const checkout = createHash('sha256').update(root).digest('hex').slice(0, 8);
  const dir = path.join(tmpdir(), 'lambda-runner-e2e-logs', `${suite}-${checkout}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Stage {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
}

/** A free loopback port (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts one process of the stack with its output in a log file; resolves when `ready` appears,
 * rejects with the log's tail when it exits or `timeoutMs` passes first.
 */
export function startStage(
  name: string,
  command: string,
  args: string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    logDir: string;
    ready: RegExp;
    timeoutMs: number;
  },
): Promise<Stage> {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(`did not start within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    const fail = (why: string) => {
      clearTimeout(timer);
      stopStage({ name, process: child, logFile });
      reject(new Error(`${name} ${why}; its log (${logFile}):\n${seen.slice(-4000)}`));
    };
    const watch = (chunk: Buffer) => {
      log.write(chunk);
      seen += chunk.toString('utf8');
      if (options.ready.test(seen)) {
        clearTimeout(timer);
        resolve({ name, process: child, logFile });
      }
    };
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
    child.on('exit', (code) => fail(`exited with ${code}`));
  });
}

/** Stops a stage's whole process group: SIGTERM, then SIGKILL. */
export async function stopStage(stage: Stage | undefined): Promise<void> {
  if (!stage?.process.pid || stage.process.exitCode !== null) return;
  const pid = stage.process.pid;
  const exited = new Promise((resolve) => stage.process.once('exit', resolve));
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 3000);
  await exited;
  clearTimeout(timer);
}

export function tail(stage: Stage | undefined, chars = 3000): string {
  if (!stage) return '';
  try {
    return readFileSync(stage.logFile, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/**
 * The control table's DynamoDB (dynalite) as a process of its own, like the rest of the stack:
 * in the suite's process it would share an event loop with the fake GitHub and slow it down.
 */
export async function startDynaliteStage(
  logDir: string,
): Promise<{ stage: Stage; endpoint: string; tableName: string }> {
  const port = await freePort();
  const stage = await startStage(
    'dynalite',
    process.execPath,
    [
      '-e',
      `require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }).listen(${port}, '127.0.0.1', () => console.log('dynalite ready'))`,
    ],
    { cwd: root, env: process.env, logDir, ready: /dynalite ready/, timeoutMs: 60_000 },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const tableName = await createControlTable(endpoint);
  return { stage, endpoint, tableName };
}

/**
 * GitHub as the runner sees it at `GHE_HOST`: requests to `/api/v3/...` go through Prism, which
 * validates them (and the answers) against GitHub's OpenAPI description, then on to the fake.
 */
export async function startPrism(
  fake: FakeGitHub,
  logDir: string,
): Promise<{ stage: Stage; url: string }> {
  const port = await freePort();
  const spec = require.resolve('@octokit/openapi/generated/api.github.com.json');
  const stage = await startStage(
    'prism',
    path.join(root, 'node_modules/.bin/prism'),
    [
      'proxy',
      spec,
      `${fake.url}/github`,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--errors',
    ],
    { cwd: root, env: process.env, logDir, ready: /Prism is listening/, timeoutMs: 120_000 },
  );
  return { stage, url: `http://127.0.0.1:${port}` };
}

/**
 * Forwards `/api/v3/*` to Prism (or straight to the fake GitHub at `${fake.url}/github`), keeping
 * method, headers and body: GitHub Enterprise's path layout.
 */
export function startFrontDoor(
  targetUrl: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const target = new URL(targetUrl);
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: target.pathname.replace(/\/$/, '') + (req.url ?? '/').replace(/^\/api\/v3/, ''),
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', (error) => res.writeHead(502).end(error.message));
    req.pipe(forward);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    ),
  );
}

/** `serverless offline` with the project's own deploy/serverless.yml: HTTP API + Lambda invoke endpoint. */
export async function startOffline(
  env: NodeJS.ProcessEnv,
  logDir: string,
  /** Puts something (a fault injector) between the functions and the invoke endpoint. */
  front?: (lambdaUrl: string) => Promise<string>,
): Promise<{ stage: Stage; webhookUrl: string; lambdaUrl: string }> {
  const [httpPort, lambdaPort] = [await freePort(), await freePort()];
  const lambdaUrl = `http://127.0.0.1:${lambdaPort}`;
  const invokeUrl = front ? await front(lambdaUrl) : lambdaUrl;
  const stage = await startStage(
    'serverless-offline',
    process.execPath,
    [
      // A failed asynchronous invocation is that invocation's failure, as in Lambda, not the
      // end of every function: serverless offline leaves it as an unhandled rejection, which
      // would stop the whole process.
      '--unhandled-rejections=warn',
      path.join(root, 'node_modules/.bin/serverless'),
      'offline',
      '--stage',
      'e2e',
      '--host',
      '127.0.0.1',
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      // serverless offline's own timeout terminates the function's worker thread but keeps the
      // instance in its pool: every later invocation that lands on it hangs until the timeout
      // and is dropped without running (one event per timeout, for the rest of the run). Each
      // function keeps its deadline itself instead, from the context's remaining time: the
      // webhook answers 503 two seconds before it, the offline broker gives its event up 30 s
      // before it (to the dead letters), the runner stops its listener at its deadline margin.
      '--noTimeout',
    ],
    {
      cwd: path.join(root, 'deploy'),
      env: { ...env, AWS_ENDPOINT_URL_LAMBDA: invokeUrl, SLS_TELEMETRY_DISABLED: '1' },
      logDir,
      ready: /Server ready/,
      timeoutMs: 90_000,
    },
  );
  return { stage, webhookUrl: `http://127.0.0.1:${httpPort}/api/github/webhooks`, lambdaUrl };
}

/** Where one local stack keeps its files. */
export interface StackFiles {
  readonly sourceDir: string;
  readonly workRoot: string;
  readonly recordFile: string;
  readonly scenariosFile: string;
}

/**
 * The environment every function of a local stack gets: the App settings, GitHub Enterprise at
 * the front door (Prism, then the fake), the fake runner tree, and `overrides` last.
 */
export function stackEnvironment(
  frontUrl: string,
  files: StackFiles,
  overrides: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    WEBHOOK_SECRET: TEST_SECRET,
    APP_ID: '4242',
    PRIVATE_KEY: appKeys.privateKey,
    GHE_HOST: frontUrl,
    GHE_PROTOCOL: 'http',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    RUNNER_SOURCE_DIR: files.sourceDir,
    RUNNER_WORK_ROOT: files.workRoot,
    RUNNER_IDLE_TIMEOUT_SECONDS: '2',
    RUNNER_STOP_GRACE_SECONDS: '1',
    // serverless offline gives the runner its 900 s timeout: this leaves it 7 s per job.
    RUNNER_DEADLINE_MARGIN_SECONDS: '893',
    // serverless offline runs every invocation in one process, so a runner must not sweep the
    // processes or files of the others, as it does in a Lambda container of its own.
    RUNNER_OWNS_CONTAINER: 'false',
    RUNNER_MIN_FREE_MB: '1',
    FAKE_RUNNER_RECORD: files.recordFile,
    FAKE_RUNNER_SCENARIOS: files.scenariosFile,
    LOG_LEVEL: 'info',
    ...overrides,
  };
}

/**
 * Invokes the local stack's broker at a Lambda endpoint (serverless offline's, or a front in
 * front of it), as an asynchronous event or, with `sync`, waiting for its answer. Resolves to
 * the invoke's status code and the broker's answer (sync only).
 */
export async function invokeBroker(
  lambdaUrl: string,
  event: unknown,
  sync = false,
): Promise<{ status?: number; answer?: unknown }> {
  const lambda = new LambdaClient({
    endpoint: lambdaUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const output = await lambda.send(
    new InvokeCommand({
      FunctionName: 'lambda-runner-e2e-broker',
      InvocationType: sync ? 'RequestResponse' : 'Event',
      Payload: Buffer.from(JSON.stringify(event)),
    }),
  );
  const text = output.Payload ? Buffer.from(output.Payload).toString() : '';
  return { status: output.StatusCode, ...(text ? { answer: JSON.parse(text) as unknown } : {}) };
}
