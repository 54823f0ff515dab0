// PID 1 of a test sandbox: what Lambda's init is to the runtime. It runs the runner host (the
// runtime process, which takes its invocations from the Runtime API), and starts it again after
// it dies, in the same PID namespace and the same work root, as Lambda does after a runtime crash.
'use strict';
const { spawn } = require('child_process');
const { createInterface } = require('readline');
const path = require('path');

let host;
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

function startHost() {
  host = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'host.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  createInterface({ input: host.stdout }).on('line', (line) => process.stdout.write(`${line}\n`));
  const me = host;
  host.on('exit', (code, signal) => {
    if (host === me) host = undefined;
    send({ event: 'host-exit', code, signal });
  });
  send({ event: 'host-started', pid: host.pid });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.op === 'start') return startHost();
  if (command.op === 'kill') return host ? host.kill('SIGKILL') : send({ event: 'no-host' });
  if (command.op === 'exit') process.exit(0);
  return undefined;
});
// PID 1 reaps what is orphaned to it, as an init does.
process.on('SIGCHLD', () => undefined);
startHost();
