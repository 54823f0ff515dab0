#!/usr/bin/env node
// A stand-in for actions/runner's bin/Runner.Listener: same arguments, output lines, exit codes
// and files. Its root is the parent of the directory of its own resolved path, as the real
// HostContext computes it. FAKE_RUNNER_SCENARIO says what the "server" does once it listens.
'use strict';
const fs = require('fs');
const path = require('path');
const childProcess = require('child_process');

const root = path.dirname(path.dirname(fs.realpathSync(__filename)));
const [command, ...args] = process.argv.slice(2);
let scenario = process.env.FAKE_RUNNER_SCENARIO || 'succeed';
const jobName = 'build';
const stamp = () =>
  new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
const say = (line) => process.stdout.write(`${line}\n`);
const fail = (message, code = 1) => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

function record(entry) {
  if (!process.env.FAKE_RUNNER_RECORD) return;
  fs.appendFileSync(
    process.env.FAKE_RUNNER_RECORD,
    `${JSON.stringify({ pid: process.pid, root, cwd: process.cwd(), home: process.env.HOME, ...entry })}\n`,
  );
}

function flags(list) {
  const out = {};
  for (let i = 0; i < list.length; i += 1) {
    const name = list[i].replace(/^--/, '');
    if (list[i + 1] !== undefined && !list[i + 1].startsWith('--')) out[name] = list[++i];
    else out[name] = true;
  }
  return out;
}

function writeConfig(files) {
  for (const [name, content] of Object.entries(files))
    fs.writeFileSync(path.join(root, name), content);
}

function configure(options) {
  for (const name of ['url', 'token', 'name']) {
    if (typeof options[name] !== 'string')
      fail(`Invalid configuration provided for ${name}. Terminating unattended configuration.`);
  }
  if (!options.unattended)
    fail('Enter the URL of the GitHub repository: (unattended mode required here)');
  say('--------------------------------------------------------------------------------');
  say('|                            Self-hosted runner registration                   |');
  say('# Authentication');
  say('√ Connected to GitHub');
  say('# Runner Registration');
  say('√ Runner successfully added');
  writeConfig({
    '.runner': JSON.stringify({
      agentId: Number(process.env.FAKE_RUNNER_AGENT_ID || 42),
      agentName: options.name,
      poolId: 1,
      poolName: options.runnergroup || 'Default',
      serverUrl: 'https://pipelines.actions.githubusercontent.com/fake',
      gitHubUrl: options.url,
      workFolder: options.work || '_work',
      ephemeral: options.ephemeral === true,
      disableUpdate: options.disableupdate === true,
      labels: String(options.labels || ''),
    }),
    '.credentials': JSON.stringify({ scheme: 'OAuth', data: { clientId: 'fake-client' } }),
    '.credentials_rsaparams': JSON.stringify({ d: 'fake' }),
  });
  say('# Runner settings');
  say('√ Settings Saved.');
  process.exit(0);
}

function applyJitConfig(encoded) {
  try {
    const files = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
    if (typeof files !== 'object' || !files['.runner']) throw new Error('JIT config lacks .runner');
    writeConfig(
      Object.fromEntries(
        Object.entries(files).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
      ),
    );
  } catch (error) {
    fail(error.message);
  }
}

/**
 * Tells the fake GitHub, when the JIT config names one, what the runner session is doing, and
 * returns its answer: to "listening", whether a job is there for this runner.
 */
async function report(event, extra = {}) {
  let settings;
  try {
    settings = JSON.parse(fs.readFileSync(path.join(root, '.runner'), 'utf8'));
  } catch {
    return;
  }
  if (!settings.fakeServerUrl) return;
  const answer = await fetch(`${settings.fakeServerUrl}/_fake/runners/${settings.agentId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event, ...extra }),
  }).catch(() => undefined);
  return answer && answer.status === 200 ? answer.json() : undefined;
}

function removeLocalConfig() {
  for (const name of ['.runner', '.credentials', '.credentials_rsaparams'])
    fs.rmSync(path.join(root, name), { force: true });
}

function takeJob(then) {
  setTimeout(
    () => {
      say(`${stamp()}: Running job: ${jobName}`);
      report('running');
      fs.mkdirSync(path.join(root, '_work', 'repo', 'repo'), { recursive: true });
      fs.writeFileSync(path.join(root, '_work', 'repo', 'repo', 'output.txt'), 'job output\n');
      fs.writeFileSync(path.join(process.env.HOME, '.job-was-here'), 'yes\n');
      state.running = true;
      setTimeout(then, Number(process.env.FAKE_RUNNER_JOB_MS || 100));
    },
    Number(process.env.FAKE_RUNNER_QUEUE_MS || 100),
  );
}

async function finish(result) {
  say(`${stamp()}: Job ${jobName} completed with result: ${result}`);
  await report('completed');
  removeLocalConfig(); // an ephemeral runner unconfigures itself after its one job
  process.exit(0);
}

const scenarios = {
  succeed: () => takeJob(() => finish('Succeeded')),
  fail: () => takeJob(() => finish('Failed')),
  // A hostile job that failed, then writes a success line into the listener's own output.
  'forge-success': () =>
    takeJob(() => {
      say(`${stamp()}: Job ${jobName} completed with result: Failed`);
      say(`${stamp()}: Job ${jobName} completed with result: Succeeded`);
      removeLocalConfig();
      process.exit(0);
    }),
  idle: () => undefined,
  hang: () => takeJob(() => undefined),
  'ignore-sigterm': () => takeJob(() => undefined),
  crash: () =>
    takeJob(async () => {
      await report('exited');
      fail('Unhandled exception. System.NullReferenceException', 1);
    }),
  daemon: () =>
    takeJob(() => {
      // A step that double-forks a daemon out of the listener's process group and session.
      const daemon = childProcess.spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
      record({ daemon: daemon.pid });
      daemon.unref();
      finish('Succeeded');
    }),
};

/**
 * `script:<path>`: the job is a bash script, run as the worker runs a step (in the job's
 * environment, its output not on the listener's); its exit code is the job's result.
 */
function runScript(file) {
  takeJob(() => {
    const step = childProcess.spawn('bash', [file], {
      cwd: path.join(root, '_work'),
      env: { ...process.env, LISTENER_PID: String(process.pid) },
      stdio: 'ignore',
    });
    step.on('exit', (code) => finish(code === 0 ? 'Succeeded' : 'Failed'));
  });
}

const state = { running: false };

/** A per-runner scenario (by runner name) from FAKE_RUNNER_SCENARIOS, a JSON file a test writes. */
function scenarioFor(name) {
  if (!process.env.FAKE_RUNNER_SCENARIOS) return undefined;
  try {
    return JSON.parse(fs.readFileSync(process.env.FAKE_RUNNER_SCENARIOS, 'utf8'))[name];
  } catch {
    return undefined;
  }
}

async function run(options) {
  if (typeof options.jitconfig === 'string') applyJitConfig(options.jitconfig);
  if (!fs.existsSync(path.join(root, '.runner'))) fail('Runner is not configured.');
  const settings = JSON.parse(fs.readFileSync(path.join(root, '.runner'), 'utf8'));
  scenario = scenarioFor(settings.agentName) || scenario;
  record({ runnerName: settings.agentName, scenario, at: Date.now() });
  fs.mkdirSync(path.join(root, '_diag'), { recursive: true });
  fs.writeFileSync(path.join(root, '_diag', `Runner_${Date.now()}-utc.log`), 'diag\n');
  process.on('SIGTERM', async () => {
    record({ signal: 'SIGTERM' });
    if (scenario === 'ignore-sigterm') return;
    if (state.running) say(`${stamp()}: Job ${jobName} completed with result: Canceled`);
    say('Exiting...');
    await report('exited');
    process.exit(0);
  });
  say('');
  say('√ Connected to GitHub');
  say('');
  say("Current runner version: '2.330.0'");
  // Like GitHub, the fake gives a queued job to one runner only: a runner that wanted one and
  // that it says no to listens on without a job, as a real one would. One that exits or idles
  // before its job does so whatever the answer.
  const wantsJob = !/^(exit:\d+|idle)$/.test(scenario);
  const offer = await report('listening', { wantsJob });
  if (wantsJob && offer && offer.job === false) scenario = 'idle';
  say(`${stamp()}: Listening for Jobs`);
  const exit = /^exit:(\d+)$/.exec(scenario);
  if (exit) {
    await report('exited');
    process.exit(Number(exit[1]));
  }
  setInterval(() => undefined, 1000);
  if (scenario.startsWith('script:')) return runScript(scenario.slice('script:'.length));
  (scenarios[scenario] || (() => fail(`unknown FAKE_RUNNER_SCENARIO ${scenario}`)))();
}

record({
  argv: process.argv.slice(2),
  envNames: Object.keys(process.env),
  echo: process.env.FAKE_RUNNER_ECHO_ENV
    ? process.env[process.env.FAKE_RUNNER_ECHO_ENV]
    : undefined,
});
if (command === '--version') {
  say('2.330.0');
  process.exit(0);
} else if (command === 'configure') {
  configure(flags(args));
} else if (command === 'run') {
  run(flags(args));
} else {
  fail(`Unrecognized command-line input arguments: '${command}'`);
}
