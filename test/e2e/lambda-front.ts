/**
 * Lambda's API in front of serverless offline, for a local stack whose runner profile has
 * isolation `version`. serverless offline serves Invoke only, and runs every event in one
 * process; this front answers the control plane (publish, configuration, event invoke config,
 * versions, delete) from the model in `test/support/fake-lambda.ts`, on the wall clock, with its
 * latency (an update locks the function for about a second, a new version is Pending for about
 * a second, a concurrent update is refused), and checks every Invoke against it: an event for a
 * version goes to that version's environments only, and a deleted or pending version refuses it.
 * Invocations it accepts go on to serverless offline without the qualifier.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeLambda } from '../support/fake-lambda';

type Model = FakeLambda;
type Route = { method: string; pattern: RegExp; call: (model: Model, input: Input) => unknown };
type Input = Record<string, unknown> & { FunctionName: string; Qualifier?: string };

const ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/2015-03-31\/functions\/([^/]+)\/configuration$/,
    call: (m, i) => m.getFunctionConfiguration(i),
  },
  {
    method: 'PUT',
    pattern: /^\/2015-03-31\/functions\/([^/]+)\/configuration$/,
    call: (m, i) => m.updateFunctionConfiguration(i),
  },
  {
    method: 'POST',
    pattern: /^\/2015-03-31\/functions\/([^/]+)\/versions$/,
    call: (m, i) => m.publishVersion(i),
  },
  {
    method: 'GET',
    pattern: /^\/2015-03-31\/functions\/([^/]+)\/versions$/,
    call: (m, i) => m.listVersionsByFunction(i),
  },
  {
    method: 'DELETE',
    pattern: /^\/2015-03-31\/functions\/([^/]+)$/,
    call: (m, i) => m.deleteFunction(i),
  },
  {
    method: 'GET',
    pattern: /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config$/,
    call: (m, i) => m.getFunctionEventInvokeConfig(i),
  },
  {
    method: 'PUT',
    pattern: /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config$/,
    call: (m, i) => m.putFunctionEventInvokeConfig(i),
  },
];

const STATUS: Record<string, number> = {
  ResourceNotFoundException: 404,
  ResourceConflictException: 409,
  PreconditionFailedException: 412,
  ResourceNotReadyException: 502,
};

/** A function's name from a path segment: a name, or an ARN (with or without a qualifier). */
function functionName(segment: string): { name: string; qualifier?: string } {
  const decoded = decodeURIComponent(segment);
  const arn = /^arn:[^:]+:lambda:[^:]+:\d+:function:([^:]+)(?::(.+))?$/.exec(decoded);
  return arn ? { name: arn[1]!, qualifier: arn[2] } : { name: decoded };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface LambdaFront {
  readonly url: string;
  readonly model: FakeLambda;
  /** Every destination record delivered to a function, as the broker received it. */
  readonly records: Record<string, unknown>[];
  close(): Promise<void>;
}

type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | string;
};

/** The model's answer to a control-plane request, or undefined when no route matches. */
function controlPlane(model: Model, method: string, url: URL, payload: Buffer): Answer | undefined {
  for (const route of ROUTES) {
    const match = route.pattern.exec(url.pathname);
    if (!match || route.method !== method) continue;
    const output = route.call(model, requestInput(match[1]!, url, payload));
    const status = { POST: 201, DELETE: 204 }[method] ?? 200;
    return {
      status,
      headers: { 'content-type': 'application/json' },
      body: status === 204 ? '' : JSON.stringify(output),
    };
  }
  return undefined;
}

/** The request's fields as the SDK's command input has them: body, function, qualifier. */
function requestInput(segment: string, url: URL, payload: Buffer): Input {
  const { name, qualifier } = functionName(segment);
  const given = url.searchParams.get('Qualifier') ?? qualifier;
  const fields = payload.length ? (JSON.parse(payload.toString()) as Record<string, unknown>) : {};
  return { ...fields, FunctionName: name, ...(given ? { Qualifier: given } : {}) };
}

/** The runner function and version a destination record is about, if it is one of the model's. */
function recordTarget(model: Model, event: Record<string, unknown>) {
  const arn = String((event.requestContext as { functionArn?: string }).functionArn ?? '');
  const runner = [...model.functions.keys()].find((fn) => arn.includes(fn));
  const version = (event.requestPayload as { functionVersion?: string } | undefined)
    ?.functionVersion;
  return runner ? { runner, version } : undefined;
}

function errorAnswer(error: Error): Answer {
  return {
    status: STATUS[error.name] ?? 500,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': error.name },
    body: JSON.stringify({ Type: 'User', message: error.message }),
  };
}

/**
 * Starts the front; `runnerFunctions` are modelled (their variables seed $LATEST), every other
 * function's invocations pass straight through.
 */
export async function startLambdaFront(
  offlineUrl: string,
  runnerFunctions: Record<string, Record<string, string>>,
): Promise<LambdaFront> {
  const model = new FakeLambda({ now: Date.now });
  for (const [name, variables] of Object.entries(runnerFunctions))
    model.addFunction(name, variables, { MaximumRetryAttempts: 0 });
  const records: Record<string, unknown>[] = [];

  const forward = (req: IncomingMessage, payload: Buffer, path: string) =>
    new Promise<Answer>((resolve, reject) => {
      const target = new URL(offlineUrl);
      const out = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path,
          headers: { ...req.headers, host: target.host, 'content-length': payload.length },
        },
        (answer) =>
          void body(answer).then((text) =>
            resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: text }),
          ),
      );
      out.on('error', reject);
      out.end(payload);
    });

  /** An event for a modelled function is checked and placed; a destination record frees its environment. */
  const observe = (
    name: string,
    qualifier: string | undefined,
    req: IncomingMessage,
    payload: Buffer,
  ) => {
    if (model.functions.has(name)) {
      model.invoke({
        FunctionName: name,
        Qualifier: qualifier,
        InvocationType: String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse'),
        Payload: payload,
      });
      return;
    }
    const event = JSON.parse(payload.toString() || 'null') as Record<string, unknown> | null;
    if (!event || typeof event !== 'object' || !('requestContext' in event)) return;
    records.push(event);
    const target = recordTarget(model, event);
    if (target) model.finishQualified(target.runner, target.version);
  };

  const answer = async (req: IncomingMessage, payload: Buffer): Promise<Answer> => {
    const url = new URL(req.url ?? '/', 'http://front');
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (invoke && req.method === 'POST') {
      const { name, qualifier } = functionName(invoke[1]!);
      observe(name, url.searchParams.get('Qualifier') ?? qualifier, req, payload);
      return forward(req, payload, `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`);
    }
    return (
      controlPlane(model, req.method ?? 'GET', url, payload) ??
      (await forward(req, payload, req.url ?? '/'))
    );
  };

  const server = createServer((req, res) => {
    void body(req)
      .then((payload) => answer(req, payload))
      .catch((error: Error) => errorAnswer(error))
      .then((out) => {
        res.writeHead(out.status, out.headers);
        res.end(out.body);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    model,
    records,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
