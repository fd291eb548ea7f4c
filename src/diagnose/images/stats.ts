// Latency statistics for bench: nearest-rank percentiles over the samples. Pure.

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 10) / 10;
  return {
    count: s.length,
    min: r(s[0] ?? 0),
    mean: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0),
    p50: r(percentile(s, 50)),
    p90: r(percentile(s, 90)),
    p99: r(percentile(s, 99)),
    max: r(s[s.length - 1] ?? 0),
  };
}

/** Runs `tasks` with at most `limit` at once; results keep the input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Endpoint order of a round: rotated by one each round, so no endpoint always goes first (and pays for a cold start). */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  if (!items.length) return [];
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export interface Spread {
  min: number;
  max: number;
  mean: number;
  /** (max - min) / 2 as a percent of the mean: the ± around it. */ relativePercent: number;
}

/** How far per-round results lie apart: a comparison inside this spread is noise. */
export function spreadOf(values: readonly number[]): Spread {
  if (!values.length) return { min: 0, max: 0, mean: 0, relativePercent: 0 };
  const min = Math.min(...values);
  const max = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { min, max, mean, relativePercent: mean > 0 ? Math.round(((max - min) / 2 / mean) * 1000) / 10 : 0 };
}
