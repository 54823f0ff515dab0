// P1 (warm webhook) and P2 (cold import) against floors measured in the same run.
import { execFileSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { createWebhookHandler } from '../src/webhook-handler';
import { delivery, queuedJob, TEST_SECRET } from '../test/support/webhook-events';
import { median, percentile, timeMs } from './stats';

const root = path.resolve(__dirname, '..');
const bundle = path.join(root, 'dist/webhook/index.js');

/** A local stand-in for Lambda's invoke API: answers every async invoke with 202. */
async function invokeEndpoint(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end(''));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => server.close(),
  };
}

/** Runs `fn` with stdout discarded: the handler's log and metric lines still cost what they cost. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}

export async function benchWarmWebhook(rounds = Number(process.env.BENCH_EVENTS ?? 2000)) {
  const endpoint = await invokeEndpoint();
  Object.assign(process.env, {
    WEBHOOK_SECRET: TEST_SECRET,
    BROKER_FUNCTION_NAME: 'broker',
    RUNNER_DISPATCH: 'lambda',
    AWS_ENDPOINT_URL_LAMBDA: endpoint.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built bundle, as Lambda loads it
  const { handler } = require(bundle) as {
    handler: (event: unknown) => Promise<{ statusCode: number }>;
  };
  const events = Array.from(
    { length: rounds },
    () => delivery(queuedJob()) as { body: string; headers: Record<string, string> },
  );
  const handlerTimes: number[] = [];
  const floorTimes: number[] = [];
  await quietly(async () => {
    for (const event of events.slice(0, 200)) await handler(event); // warm-up
    for (const event of events) {
      const answer = { statusCode: 0 };
      handlerTimes.push(await timeMs(async () => Object.assign(answer, await handler(event))));
      if (answer.statusCode !== 202)
        throw new Error(`bench: expected 202, got ${answer.statusCode}`);
      floorTimes.push(
        await timeMs(() => floor(event.body, event.headers['x-hub-signature-256'] ?? '')),
      );
    }
  });
  endpoint.close();
  return {
    p50: percentile(handlerTimes, 50),
    p99: percentile(handlerTimes, 99),
    floorP50: percentile(floorTimes, 50),
    floorP99: percentile(floorTimes, 99),
  };
}

/**
 * The same handler with the invoke and the log line stubbed out: what the webhook's own code
 * (verify, parse, Probot's receive, the decision) costs beside the floor.
 */
export async function benchDecisionPath(rounds = Number(process.env.BENCH_EVENTS ?? 2000)) {
  const handler = createWebhookHandler({
    env: { WEBHOOK_SECRET: TEST_SECRET, BROKER_FUNCTION_NAME: 'broker', RUNNER_DISPATCH: 'lambda' },
    log: pino({ level: 'silent' }),
    dispatch: async () => undefined,
  });
  const events = Array.from({ length: rounds }, () => delivery(queuedJob()));
  for (const event of events.slice(0, 200)) await handler(event as never);
  const times: number[] = [];
  for (const event of events) times.push(await timeMs(() => handler(event as never)));
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** The least any webhook must do: verify the HMAC and parse the body. */
function floor(body: string, signature: string): unknown {
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', TEST_SECRET).update(body).digest('hex')}`,
  );
  if (!timingSafeEqual(expected, Buffer.from(signature))) throw new Error('bench: bad signature');
  return JSON.parse(body);
}

/** Median ms for a fresh `node -e <code>`, over `runs`. */
function coldStart(code: string, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = process.hrtime.bigint();
    execFileSync(process.execPath, ['-e', code], { cwd: root, stdio: 'ignore' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

export function benchColdImport(runs = Number(process.env.BENCH_COLD_RUNS ?? 15)) {
  const bare = [] as number[];
  const handler = [] as number[];
  const sdk = [] as number[];
  // Interleaved, so a busy moment of a shared machine weighs on all three alike.
  for (let i = 0; i < runs; i += 1) {
    bare.push(coldStart('', 1));
    handler.push(coldStart(`require(${JSON.stringify(bundle)})`, 1));
    sdk.push(coldStart("require('@aws-sdk/client-lambda')", 1));
  }
  const base = median(bare);
  return {
    bareMs: base,
    handlerMs: median(handler) - base,
    sdkMs: median(sdk) - base,
    bundleBytes: statSync(bundle).size,
  };
}

if (require.main === module) {
  void (async () => {
    const warm = await benchWarmWebhook();
    console.log(
      `P1 warm: p50 ${warm.p50.toFixed(3)} ms, p99 ${warm.p99.toFixed(3)} ms; floor p50 ${warm.floorP50.toFixed(3)} ms, p99 ${warm.floorP99.toFixed(3)} ms`,
    );
    const cold = benchColdImport();
    console.log(
      `P2 cold: handler ${cold.handlerMs.toFixed(1)} ms, client-lambda ${cold.sdkMs.toFixed(1)} ms, ratio ${(cold.handlerMs / cold.sdkMs).toFixed(2)}; bundle ${(cold.bundleBytes / 1024).toFixed(0)} KiB`,
    );
  })();
}
