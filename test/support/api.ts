import { mintDevToken } from '../../local/dev-auth.js';
import type { LocalSaga } from '../../local/saga.js';

/** A client of the local API Gateway: what a caller over HTTPS would send and get back. */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body exactly as sent (replays must be byte-identical). */
  text: string;
  // Parsed JSON, for assertions.
  json: Record<string, unknown>;
}

export interface ApiCall {
  method?: string;
  path: string;
  token?: string;
  idempotencyKey?: string;
  body?: unknown;
  /** Send this raw text instead of JSON.stringify(body). */
  rawBody?: string;
  contentType?: string | null;
  headers?: Record<string, string>;
}

export async function call(saga: LocalSaga, c: ApiCall): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.token) headers['Authorization'] = `Bearer ${c.token}`;
  if (c.idempotencyKey) headers['Idempotency-Key'] = c.idempotencyKey;
  const body = c.rawBody ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
  if (body !== undefined && c.contentType !== null) headers['Content-Type'] = c.contentType ?? 'application/json';
  const res = await saga.api.handle({
    method: c.method ?? (body === undefined ? 'GET' : 'POST'),
    path: c.path,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    // not JSON: leave empty, the test looks at `text`
  }
  const lower = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: res.statusCode, headers: lower, text: res.body, json };
}

export const token = (userId: string, admin = false) => mintDevToken({ userId, admin });
