/** Nearest-rank percentile of unsorted samples (milliseconds); NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function latency(samples: readonly number[]): Latency {
  return {
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
  };
}

/** Closed loop: `concurrency` workers each run `task` back to back until the deadline (or `count` tasks in all). */
export async function closedLoop(options: {
  concurrency: number;
  durationMs?: number;
  count?: number;
  task: (worker: number, seq: number) => Promise<void>;
}): Promise<{ tasks: number; elapsedMs: number }> {
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs;
  let next = 0;
  const claim = (): number | undefined => {
    if (performance.now() >= deadline) return undefined;
    if (options.count !== undefined && next >= options.count) return undefined;
    return next++;
  };
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      for (let seq = claim(); seq !== undefined; seq = claim()) await options.task(worker, seq);
    }),
  );
  return { tasks: next, elapsedMs: performance.now() - started };
}
