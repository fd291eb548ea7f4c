import { readIfExists, saveState } from './persist.js';
import type { ObservedEvent } from './pulls.js';

/**
 * Pull SLO from the request events, in time buckets so 30 days fit in bounded memory:
 *   per-minute buckets for the last 24 h (at most 1 440) and per-hour buckets for 30 d (at most 720),
 * each holding pull and failure counts and a latency histogram with fixed log-scale bins (×1.1 per
 * bin: any percentile is within 10 % of the true value, ~5 % after interpolation; the mean is exact).
 * Worst case about 2 160 buckets × 140 bins, ~1.2 MB; in practice most minutes are empty and absent.
 *
 * Definitions (docs/observability.md):
 *   pull         a request that starts an image pull (PullClassifier: once per pull, whatever the tool)
 *   failed pull  a pull with a server failure (5xx, 429, UPSTREAM_UNAVAILABLE) on its manifest
 *                request or on any later request of the same pull (a layer that could not be served)
 *   latency      duration of the manifest request that starts the pull, over pulls not failed there
 */

const FACTOR = 1.1;
const BINS = 140; // 1.1^139 ms ≈ 9.4 min: anything slower lands in the last bin.
const MINUTE = 60_000;
const HOUR = 3_600_000;
const LOG_FACTOR = Math.log(FACTOR);

export function binOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(BINS - 1, Math.ceil(Math.log(ms) / LOG_FACTOR));
}
const binUpper = (i: number): number => FACTOR ** i;
const binLower = (i: number): number => (i === 0 ? 0 : FACTOR ** (i - 1));

interface Bucket { pulls: number; failed: number; latSum: number; latCount: number; hist: Uint32Array }
const newBucket = (): Bucket => ({ pulls: 0, failed: 0, latSum: 0, latCount: 0, hist: new Uint32Array(BINS) });

interface SloTargets {
  /** Percent, e.g. 99.95. */
  successPercent: number;
  latencyMs: number;
}

export interface SloWindowReport {
  window: '1h' | '24h' | '30d';
  pulls: number;
  failed: number;
  /** null when there were no pulls (no data is not 100 %). */
  successPercent: number | null;
  latencyMs: { samples: number; mean: number | null; p50: number | null; p95: number | null; p99: number | null };
  errorBudget: {
    /** Failures the target allows for this many pulls. */
    allowed: number;
    /** Fraction of the budget left: 1 = untouched, 0 = spent, negative = overspent. */
    remaining: number;
  };
  met: { success: boolean | null; latency: boolean | null };
}

export interface SloReport {
  generatedAt: string;
  targets: SloTargets;
  windows: SloWindowReport[];
}

const WINDOWS: { window: SloWindowReport['window']; ms: number; res: 'minute' | 'hour' }[] = [
  { window: '1h', ms: HOUR, res: 'minute' },
  { window: '24h', ms: 24 * HOUR, res: 'minute' },
  { window: '30d', ms: 30 * 24 * HOUR, res: 'hour' },
];

export class SloTracker {
  private readonly minutes = new Map<number, Bucket>();
  private readonly hours = new Map<number, Bucket>();
  private lastPrune = 0;
  /** Set when something changed since the last save. */
  dirty = false;

  constructor(readonly targets: SloTargets, private readonly now: () => number = Date.now) {}

  record(e: ObservedEvent): void {
    if (!e.pull && !e.pullFailed) return;
    const buckets = [this.bucket(this.minutes, Math.floor(e.time / MINUTE)), this.bucket(this.hours, Math.floor(e.time / HOUR))];
    for (const b of buckets) {
      if (e.pull) b.pulls++;
      if (e.pullFailed) b.failed++;
      if (e.pull && !e.pullFailed) { b.latSum += e.durationMs; b.latCount++; b.hist[binOf(e.durationMs)]!++; }
    }
    this.dirty = true;
    if (e.time - this.lastPrune > MINUTE) this.prune(e.time);
  }

  report(now = this.now()): SloReport {
    return {
      generatedAt: new Date(now).toISOString(),
      targets: this.targets,
      windows: WINDOWS.map((w) => this.window(w.window, w.ms, w.res, now)),
    };
  }

  private window(name: SloWindowReport['window'], ms: number, res: 'minute' | 'hour', now: number): SloWindowReport {
    const unit = res === 'minute' ? MINUTE : HOUR;
    const map = res === 'minute' ? this.minutes : this.hours;
    const last = Math.floor(now / unit);
    const first = last - Math.round(ms / unit) + 1;
    const sum = newBucket();
    for (const [k, b] of map) {
      if (k < first || k > last) continue;
      sum.pulls += b.pulls; sum.failed += b.failed; sum.latSum += b.latSum; sum.latCount += b.latCount;
      for (let i = 0; i < BINS; i++) sum.hist[i]! += b.hist[i]!;
    }
    const allowed = (sum.pulls * (100 - this.targets.successPercent)) / 100;
    const successPercent = sum.pulls ? (100 * (sum.pulls - sum.failed)) / sum.pulls : null;
    const mean = sum.latCount ? sum.latSum / sum.latCount : null;
    return {
      window: name,
      pulls: sum.pulls,
      failed: sum.failed,
      successPercent: successPercent === null ? null : Math.max(0, successPercent),
      latencyMs: { samples: sum.latCount, mean, p50: quantile(sum.hist, sum.latCount, 0.5), p95: quantile(sum.hist, sum.latCount, 0.95), p99: quantile(sum.hist, sum.latCount, 0.99) },
      errorBudget: { allowed, remaining: sum.pulls === 0 ? 1 : allowed > 0 ? 1 - sum.failed / allowed : sum.failed ? -Infinity : 1 },
      met: {
        success: successPercent === null ? null : successPercent >= this.targets.successPercent,
        latency: mean === null ? null : mean <= this.targets.latencyMs,
      },
    };
  }

  private bucket(map: Map<number, Bucket>, k: number): Bucket {
    let b = map.get(k);
    if (!b) { b = newBucket(); map.set(k, b); }
    return b;
  }

  private prune(now: number): void {
    this.lastPrune = now;
    const minMinute = Math.floor(now / MINUTE) - 24 * 60;
    const minHour = Math.floor(now / HOUR) - 30 * 24;
    for (const k of this.minutes.keys()) if (k < minMinute) this.minutes.delete(k);
    for (const k of this.hours.keys()) if (k < minHour) this.hours.delete(k);
  }

  get bucketCount(): number { return this.minutes.size + this.hours.size; }

  /** Compact JSON: histograms as [bin, count] pairs of non-empty bins. */
  serialize(): string {
    const enc = (m: Map<number, Bucket>) => [...m].map(([k, b]) => [k, b.pulls, b.failed, b.latSum, b.latCount, [...b.hist].flatMap((c, i) => (c ? [i, c] : []))]);
    return JSON.stringify({ version: 1, bins: { factor: FACTOR, count: BINS }, minutes: enc(this.minutes), hours: enc(this.hours) });
  }

  /** Restores saved buckets; a file from another bin layout or a corrupt one is ignored (returns false). */
  restore(text: string): boolean {
    let doc: { version?: number; bins?: { factor?: number; count?: number }; minutes?: unknown; hours?: unknown };
    try { doc = JSON.parse(text); } catch { return false; }
    if (doc.version !== 1 || doc.bins?.factor !== FACTOR || doc.bins?.count !== BINS) return false;
    const dec = (rows: unknown, into: Map<number, Bucket>) => {
      if (!Array.isArray(rows)) return;
      for (const r of rows) {
        if (!Array.isArray(r) || r.length !== 6 || !r.slice(0, 5).every((x) => typeof x === 'number' && Number.isFinite(x)) || !Array.isArray(r[5])) continue;
        const b = newBucket();
        [b.pulls, b.failed, b.latSum, b.latCount] = [r[1], r[2], r[3], r[4]];
        const h = r[5] as number[];
        for (let i = 0; i + 1 < h.length; i += 2) if (Number.isInteger(h[i]) && h[i]! >= 0 && h[i]! < BINS) b.hist[h[i]!] = h[i + 1]!;
        into.set(r[0], b);
      }
    };
    dec(doc.minutes, this.minutes);
    dec(doc.hours, this.hours);
    this.prune(this.now());
    return true;
  }

  /** Writes the buckets atomically (temp file, fsync, rename), so a crash mid-save keeps the old file. */
  async save(path: string): Promise<void> {
    this.dirty = false;
    await saveState(path, this.serialize());
  }

  async load(path: string): Promise<boolean> {
    const text = await readIfExists(path);
    return text !== undefined && this.restore(text);
  }
}

/** The q-quantile from a histogram, interpolating linearly inside the bin that holds it. */
export function quantile(hist: Uint32Array, count: number, q: number): number | null {
  if (count === 0) return null;
  const rank = q * count;
  let seen = 0;
  for (let i = 0; i < BINS; i++) {
    const c = hist[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const lo = binLower(i);
      const hi = binUpper(i);
      return lo + ((hi - lo) * Math.max(0, rank - seen)) / c;
    }
    seen += c;
  }
  return binUpper(BINS - 1);
}
