/**
 * Fleet-wide counters for rate limits and anomaly rules: the one boundary between decisions that
 * stay local and synchronous (a request is never held up by Redis) and the state the fleet shares.
 * Calls are batches: an instance sends what it counted since its last sync and gets the fleet's
 * totals back (see counter-sync.ts). `MemoryCounterStore` is the single-process implementation;
 * `RedisCounterStore` the fleet one. Both pass counters.suite.ts.
 */
export interface BucketDelta {
  key: string;
  /** Tokens per second and bucket size: every instance must be configured alike. */
  rate: number;
  burst: number;
  /** Tokens this instance handed out since its last sync. */
  used: number;
}

export interface WindowDelta {
  key: string;
  windowMs: number;
  /** The window slides by windowMs / slots. */
  slots: number;
  /** Counted since the last sync (0: only read the total). */
  added: number;
}

export interface CounterStore {
  /**
   * Takes `used` tokens from each shared bucket (refilled at `rate` a second up to `burst`) and
   * returns the tokens left. Negative means the fleet overdrew between syncs: that debt is repaid
   * before anyone gets another token (floored at -burst, so an overload is never punished for
   * longer than two bursts' worth of refill).
   */
  takeTokens(batch: readonly BucketDelta[]): Promise<number[]>;
  /** Adds to each shared sliding window and returns its total over the window. */
  addToWindows(batch: readonly WindowDelta[]): Promise<number[]>;
  /** False while the shared store is unreachable: callers then count alone. */
  healthy(): boolean;
}

/** The bucket arithmetic both stores share (the Redis store runs the same steps in Lua). */
export function drawTokens(state: { tokens: number; at: number } | undefined, d: BucketDelta, now: number): { tokens: number; at: number } {
  const cap = Math.max(1, d.burst);
  const tokens = state ? Math.min(cap, state.tokens + Math.max(0, now - state.at) / 1000 * d.rate) : cap;
  return { tokens: Math.max(-cap, tokens - d.used), at: now };
}

/** One process's counters: what a single instance uses, and the reference for the shared suite. */
export class MemoryCounterStore implements CounterStore {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly windows = new Map<string, Map<number, number>>();

  constructor(private readonly now: () => number = Date.now) {}

  healthy(): boolean { return true; }

  async takeTokens(batch: readonly BucketDelta[]): Promise<number[]> {
    const t = this.now();
    return batch.map((d) => {
      const s = drawTokens(this.buckets.get(d.key), d, t);
      this.buckets.set(d.key, s);
      return s.tokens;
    });
  }

  async addToWindows(batch: readonly WindowDelta[]): Promise<number[]> {
    const t = this.now();
    return batch.map((d) => {
      const slot = Math.floor(t / Math.max(1, Math.ceil(d.windowMs / d.slots)));
      const w = this.windows.get(d.key) ?? new Map<number, number>();
      this.windows.set(d.key, w);
      if (d.added) w.set(slot, (w.get(slot) ?? 0) + d.added);
      let total = 0;
      for (const [s, n] of w) {
        if (s <= slot - d.slots) w.delete(s); else total += n;
      }
      return total;
    });
  }
}
