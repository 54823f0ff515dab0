// The runtime process of a test sandbox: loads the built runner bundle exactly as Lambda's Node
// runtime would and serves the environment's Runtime API (AWS_LAMBDA_RUNTIME_API) the way the
// runtime interface client does: GET /next, run the handler, POST its response or error, again.
'use strict';
const path = require('path');

const { handler } = require(path.resolve(__dirname, '../../../dist/runner/index.js'));
const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

async function serve() {
  for (;;) {
    const next = await fetch(`${api}/invocation/next`);
    const requestId = next.headers.get('lambda-runtime-aws-request-id');
    const deadline = Number(next.headers.get('lambda-runtime-deadline-ms'));
    const event = await next.json();
    let outcome;
    try {
      const result = await handler(event, {
        awsRequestId: requestId,
        invokedFunctionArn: next.headers.get('lambda-runtime-invoked-function-arn'),
        getRemainingTimeInMillis: () => deadline - Date.now(),
      });
      outcome = { kind: 'response', body: result ?? null };
    } catch (error) {
      outcome = { kind: 'error', body: { errorType: error.name, errorMessage: error.message } };
    }
    const posted = await fetch(`${api}/invocation/${requestId}/${outcome.kind}`, {
      method: 'POST',
      body: JSON.stringify(outcome.body),
    });
    // Refused when something else in the sandbox already ended this invocation.
    if (posted.status !== 202)
      send({ event: 'response-refused', requestId, status: posted.status });
  }
}

send({ event: 'host-ready', pid: process.pid });
serve().catch((error) => {
  send({ event: 'runtime-api-gone', message: error.message });
  process.exit(1);
});
