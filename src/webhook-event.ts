/** An HTTP request as API Gateway REST (v1), HTTP API (v2) or a Function URL delivers it. */
export interface HttpEvent {
  readonly version?: string;
  readonly httpMethod?: string;
  readonly path?: string;
  readonly rawPath?: string;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

/** A webhook request with lower-cased header names and the body exactly as GitHub sent it. */
export interface WebhookRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: string;
}

/**
 * Normalises any of the three event shapes. Header names are matched in any case (RFC 7230);
 * a base64 body is decoded back to the bytes that were signed.
 */
export function toWebhookRequest(event: HttpEvent | null | undefined): WebhookRequest {
  const source: HttpEvent = event ?? {};
  return {
    method: (source.requestContext?.http?.method ?? source.httpMethod ?? 'POST').toUpperCase(),
    path: source.rawPath ?? source.path ?? '/',
    headers: lowerCaseHeaders(source),
    rawBody: rawBody(source),
  };
}

function lowerCaseHeaders(event: HttpEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (values?.[0] !== undefined) headers[name.toLowerCase()] = values[0];
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  return headers;
}

function rawBody(event: HttpEvent): string {
  const body = typeof event.body === 'string' ? event.body : '';
  return event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
}

/** The JSON text of the delivery: the body itself, or its `payload` field when form-encoded. */
export function payloadText(request: WebhookRequest): string | undefined {
  const type = request.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return request.rawBody;
  return new URLSearchParams(request.rawBody).get('payload') ?? undefined;
}
