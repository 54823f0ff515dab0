// The runtime process of a test sandbox: loads the built runner bundle exactly as Lambda's
// Node runtime would and runs one invocation per line of input, one at a time.
'use strict';
const { createInterface } = require('readline');
const path = require('path');

const { handler } = require(path.resolve(__dirname, '../../../dist/runner/index.js'));
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
let queue = Promise.resolve();

createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, payload, remainingMs } = JSON.parse(line);
  queue = queue.then(async () => {
    const deadline = Date.now() + remainingMs;
    try {
      const result = await handler(payload, {
        getRemainingTimeInMillis: () => deadline - Date.now(),
      });
      send({ id, result });
    } catch (error) {
      send({ id, error: error.message });
    }
  });
});
send({ event: 'host-ready', pid: process.pid });
