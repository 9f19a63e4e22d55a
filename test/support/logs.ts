import { vi } from 'vitest';

/**
 * What the Lambdas running in this process write: Powertools Logger lines (INFO and below on
 * stdout, WARN and above on stderr) and Metrics' EMF blobs (stdout), one JSON document per line,
 * exactly as CloudWatch Logs would receive them. Captured instead of printed until `restore()`.
 *
 * The suites run with POWERTOOLS_LOG_LEVEL=SILENT and POWERTOOLS_METRICS_DISABLED=true (see
 * vitest.config.ts); a suite asserting on logs or metrics enables them with `enableTelemetry()`
 * before it creates any handler.
 */
export interface CapturedLogs {
  /** Every line written so far, parsed when it is JSON. */
  lines(): { raw: string; json?: Record<string, unknown> }[];
  /** The JSON lines that are log entries (they have a `level`). */
  entries(): Record<string, unknown>[];
  /** The EMF metric blobs (they have `_aws.CloudWatchMetrics`). */
  metrics(): Record<string, unknown>[];
  /** Forget what was captured so far (keep capturing). */
  clear(): void;
  restore(): void;
}

export function enableTelemetry(level: 'INFO' | 'WARN' = 'INFO'): void {
  process.env['POWERTOOLS_LOG_LEVEL'] = level;
  process.env['POWERTOOLS_METRICS_DISABLED'] = 'false';
}

export function captureLogs(): CapturedLogs {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    // Node's write(chunk, [encoding], [callback]): honour a callback so nothing waits forever.
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);

  const lines = () =>
    written
      .join('')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((raw) => {
        try {
          const json: unknown = JSON.parse(raw);
          return json && typeof json === 'object' && !Array.isArray(json)
            ? { raw, json: json as Record<string, unknown> }
            : { raw };
        } catch {
          return { raw };
        }
      });
  const jsonLines = () => lines().flatMap((l) => (l.json ? [l.json] : []));
  return {
    lines,
    entries: () => jsonLines().filter((j) => typeof j['level'] === 'string'),
    metrics: () => jsonLines().filter((j) => typeof j['_aws'] === 'object'),
    clear: () => {
      written.length = 0;
    },
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}
