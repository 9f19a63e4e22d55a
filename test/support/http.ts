/** A client of the API over real HTTP, as a caller of the deployed stack sees it. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The body exactly as sent (replays must be byte-identical). */
  text: string;
  /** Parsed JSON, for assertions ({} when the body is not JSON). */
  json: Record<string, unknown>;
}

export interface HttpOptions {
  token?: string;
  key?: string;
  body?: unknown;
}

export async function httpCall(
  baseUrl: string,
  method: string,
  path: string,
  opts: HttpOptions = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers['Authorization'] = `Bearer ${opts.token}`;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the test looks at `text`
  }
  return { status: res.status, headers: res.headers, text, json };
}
