// `npm run bench`: every performance figure, each against a floor measured in the same run.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { benchIsolation } from './isolation';
import { benchRunnerGitHub } from './runner-github';
import { benchRunnerPrep } from './runner-prep';
import { benchColdImport } from './webhook';
import { runBurstApart } from '../test/support/burst/child';

process.env.POWERTOOLS_METRICS_DISABLED = 'true'; // the benches measure, they do not report

type Warm = {
  p50: number;
  p99: number;
  floorP50: number;
  floorP99: number;
  decisionP50: number;
  decisionP99: number;
};

function warmWebhook(): Promise<Warm> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'warm-webhook-child.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('message', (result) => resolve(result as Warm));
    child.once('exit', (code) =>
      code === 0 ? undefined : reject(new Error(`P1 exited with ${code}`)),
    );
  });
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 3 : 1)} ms`;
const verdict = (ok: boolean) => (ok ? 'met' : 'not met');

async function main() {
  const warm = await warmWebhook();
  const cold = benchColdImport();
  const prep = await benchRunnerPrep();
  const github = await benchRunnerGitHub();
  const isolation = await benchIsolation();
  const burst = await runBurstApart({ jobs: 3000 });
  const burstTwoApps = await runBurstApart({ jobs: 3000, apps: 2 });
  const seconds = (value: number) => `${(value / 1000).toFixed(0)} s`;
  const clean = (run: typeof burst) =>
    `lost ${run.lost}, registrations left ${run.registrationsLeft}, calls inside windows ${Object.values(run.callsInsideWindows).reduce((a, b) => a + b, 0)}, ${run.callsPerJob.toFixed(2)} GitHub calls a job (${run.installationCallsPerJob.toFixed(2)} on the installation), at most ${run.maxMintsPerColdStart} mint per cold start`;
  const coldRatio = cold.handlerMs / cold.sdkMs;
  const rows = [
    [
      'P1 warm webhook, p50',
      ms(warm.p50),
      `floor ${ms(warm.floorP50)}`,
      `${(warm.p50 / warm.floorP50).toFixed(1)}x`,
      '-',
    ],
    [
      'P1 warm webhook, p99',
      ms(warm.p99),
      `floor ${ms(warm.floorP99)}`,
      `${(warm.p99 / warm.floorP99).toFixed(1)}x`,
      `p99 <= 5 ms: ${verdict(warm.p99 <= 5)}; <= 3x floor: ${verdict(warm.p99 / warm.floorP99 <= 3)}`,
    ],
    [
      'P1 decision path (invoke, log stubbed), p50 / p99',
      `${ms(warm.decisionP50)} / ${ms(warm.decisionP99)}`,
      `floor ${ms(warm.floorP50)} / ${ms(warm.floorP99)}`,
      `${(warm.decisionP50 / warm.floorP50).toFixed(1)}x / ${(warm.decisionP99 / warm.floorP99).toFixed(1)}x`,
      'what our own code costs',
    ],
    [
      'P2 cold import of the webhook bundle',
      ms(cold.handlerMs),
      `@aws-sdk/client-lambda ${ms(cold.sdkMs)}`,
      `${coldRatio.toFixed(2)}x`,
      `<= 1.5x: ${verdict(coldRatio <= 1.5)}; bundle ${(cold.bundleBytes / 1024).toFixed(0)} KiB`,
    ],
    [
      'P3 runner prep (invocation -> listener spawned)',
      ms(prep.link),
      `cp -a ${ms(prep.copy)}`,
      `${prep.ratio.toFixed(3)}x`,
      `<= 0.25: ${verdict(prep.ratio <= 0.25)}; tree ${prep.tree.files} files, ${(prep.tree.bytes / 1e6).toFixed(0)} MB`,
    ],
    [
      'P4 GitHub calls per job, warm broker',
      String(github.warmCalls.length),
      github.warmCalls.join(', '),
      '-',
      `<= 2: ${verdict(github.warmCalls.length <= 2)}`,
    ],
    [
      'P5 a never-used runner (idle path)',
      `${github.idleRunnerSeconds.toFixed(2)} runner-s`,
      `idle timeout ${github.idleTimeoutSeconds} s`,
      `+${(github.idleRunnerSeconds - github.idleTimeoutSeconds).toFixed(2)} s`,
      `about ${(github.idleRunnerSeconds * 3 * 0.0000166667).toFixed(5)} USD at 3 GB`,
    ],
    [
      `P6 delivery -> listener spawned, GitHub at ${github.githubLatencyMs} ms a call, median of ${github.jobs}`,
      `${ms(github.hopMedianMs)} (webhook -> broker -> runner)`,
      `${ms(github.directMedianMs)} (broker and runner in one invocation)`,
      `${github.hopMedianMs - github.directMedianMs >= 0 ? '+' : ''}${ms(github.hopMedianMs - github.directMedianMs)}`,
      `<= +50 ms for the broker hop: ${verdict(github.hopMedianMs - github.directMedianMs <= 50)}`,
    ],
    [
      `P7 delivery -> listener spawned, one job per environment, median of ${isolation.jobs}`,
      `${ms(isolation.versionMedianMs)} (isolation version: a claimed version, a cold runner)`,
      `${ms(isolation.sharedMedianMs)} (isolation shared: a warm runner)`,
      `${(isolation.versionMedianMs / isolation.sharedMedianMs).toFixed(2)}x`,
      `${isolation.controlPlaneCallsPerJob.toFixed(1)} control-plane calls per job; versions left ${isolation.liveVersions} (the pool); on AWS add a cold start per job (docs/DEPLOYMENT.md)`,
    ],
    [
      'P8 burst of 3,000 queued jobs, one App (virtual time)',
      `every job's runner started in ${seconds(burst.dispatchedAllMs)}`,
      `pacing floor ${seconds(burst.floorMs)}`,
      `${burst.ratio.toFixed(3)}x`,
      `<= 1.2x: ${verdict(burst.ratio <= 1.2)}; ${clean(burst)}`,
    ],
    [
      'P8 the same burst, two Apps (virtual time)',
      `every job's runner started in ${seconds(burstTwoApps.dispatchedAllMs)} (floor ${seconds(burstTwoApps.floorMs)}, ${burstTwoApps.ratio.toFixed(3)}x)`,
      `one App ${seconds(burst.dispatchedAllMs)}`,
      `${(burstTwoApps.dispatchedAllMs / burst.dispatchedAllMs).toFixed(2)}x`,
      `about half: ${verdict(burstTwoApps.dispatchedAllMs <= 0.55 * burst.dispatchedAllMs)}; ${clean(burstTwoApps)}`,
    ],
  ];
  const header = ['measure', 'value', 'floor / reference', 'ratio', 'goal'];
  const table = [header, header.map(() => '---'), ...rows]
    .map((row) => `| ${row.join(' | ')} |`)
    .join('\n');
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
  console.log(table);
  const doc = [
    '# lambda-runner benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${machine}.`,
    'Each figure is compared with a floor measured in the same run; these machines are shared, so',
    'ratios are steadier than absolute times.',
    '',
    table,
    '',
    '- P1: a signed `workflow_job.queued` through the built `dist/webhook/index.js` handler, warm,',
    '  with the invoke answered by a local endpoint over HTTP; floor: HMAC-SHA256 verify + `JSON.parse`',
    '  of the same body. The handler pays for a loopback HTTP round trip to the invoke endpoint, its',
    '  log line and its metric line, which the floor does not. The decision-path row runs the same',
    '  handler with the invoke and the log line stubbed out, to show what the webhook code itself costs.',
    '- P2: a fresh `node` importing the bundle, minus a bare `node -e ""`, against the same for',
    '  `@aws-sdk/client-lambda` alone.',
    '- P3: see `npm run bench:runner`: a synthetic runner tree the size of a release.',
    '- P4: GitHub requests the broker makes for the second job once warm, counted by the fake GitHub.',
    '- P5: wall time of a runner invocation whose runner never gets a job, at the default idle timeout.',
    '- P6: a signed delivery through the webhook handler, an async invoke over HTTP to a local invoke',
    '  endpoint, the broker (GitHub answering every call after a fixed delay) and the runner, to the',
    '  listener process starting; against the same with the runner started inside the broker',
    '  invocation (one async invoke, as before the split). The difference is what the second hop costs.',
    '- P7: the same path with the profile at isolation `version` (the broker claims a fresh version',
    "  from the control table in dynalite, Lambda's control plane modelled with its one-second update",
    '  and publish, a new runner handler per version: its init) against isolation `shared` (one warm',
    '  runner handler), jobs one after another with the pool refilled between them. Control-plane',
    "  calls count publish, configuration polls, event invoke config and the version's deletion.",
    '- P8: test/support/burst: 3,000 jobs queued at once through the real webhook and broker handlers',
    '  on a virtual clock (32 broker containers, half per queue; SQS with visibility timeouts and',
    '  redrive; runners take any queued job, run 60 s and end), against a GitHub that enforces its',
    '  limits (5,000 requests an hour per installation, 900 points a minute, 100 concurrent,',
    '  10,000 registrations an hour; 403 and 429 with retry-after). The floor is when the last call',
    "  could go at the earliest: the points (5 a registration) in GitHub's minute windows, and the",
    '  hourly budget, per installation. Two Apps: the second installed on the same repository.',
    '',
  ].join('\n');
  writeFileSync(path.join(__dirname, 'results.md'), doc);
}

void main();
