import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { safeParse } from 'zod/mini';
import type { $ZodType, output } from 'zod/v4/core';
import { PROBLEMS, problemTypeUri, type ProblemType } from './problems.js';

/** Bodies larger than this are refused with 413 before parsing (API Gateway allows 10 MB). */
export const MAX_BODY_BYTES = 16 * 1024;

export type Response = APIGatewayProxyResult & { headers: Record<string, string> };

export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(
    readonly type: ProblemType,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(`${type}${detail ? `: ${detail}` : ''}`);
  }
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Response {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function problem(p: HttpProblem, instance: string): Response {
  const { status, title } = PROBLEMS[p.type];
  return {
    statusCode: status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...p.headers },
    body: JSON.stringify({
      type: problemTypeUri(p.type),
      title,
      status,
      ...(p.detail ? { detail: p.detail } : {}),
      instance,
      ...p.extra,
    }),
  };
}

/*
 * @types/aws-lambda declares some fields of a proxy event always present that are not: API Gateway
 * sends `headers: null` for a request without headers, and a direct invocation (a console test
 * event) may leave out `body` or `requestContext.path`. The code below reads them as what they are.
 */

/** The path the client asked for, stage prefix included (`instance` of a problem). */
export function instancePath(event: APIGatewayProxyEvent): string {
  const seen: unknown = event.requestContext.path;
  return typeof seen === 'string' ? seen : event.path;
}

/**
 * The path prefix the client used before our resource paths: `/v1` on the execute-api URL (the
 * stage), empty behind a custom domain mapped without a base path. Location headers need it.
 */
export function basePath(event: APIGatewayProxyEvent): string {
  const seen = event.requestContext.path;
  return seen && seen.endsWith(event.path) ? seen.slice(0, seen.length - event.path.length) : '';
}

/** Header lookup as HTTP wants it: case-insensitive. */
export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const headers = event.headers as APIGatewayProxyEvent['headers'] | null;
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === wanted && v !== undefined) return v;
  return undefined;
}

/** Content type, size, JSON and schema checks, in that order; any failure writes nothing. */
export function parseBody<S extends $ZodType>(event: APIGatewayProxyEvent, schema: S): output<S> {
  const sent = (event.body as string | null | undefined) ?? '';
  const raw = event.isBase64Encoded ? Buffer.from(sent, 'base64').toString('utf8') : sent;
  if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES)
    throw new HttpProblem('payload-too-large', `The limit is ${MAX_BODY_BYTES} bytes`);
  const contentType = header(event, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json')
    throw new HttpProblem('unsupported-media-type', `Got ${contentType ?? 'no Content-Type'}`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpProblem('bad-request', 'The body is not valid JSON');
  }
  return validate(schema, body);
}

export function validate<S extends $ZodType>(schema: S, value: unknown): output<S> {
  const parsed = safeParse(schema, value);
  if (!parsed.success) {
    throw new HttpProblem('validation-failed', 'See errors', {
      errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return parsed.data;
}
