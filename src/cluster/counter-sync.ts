import { TokenBuckets, type RateLimiter } from '../limits/token-bucket.js';
import { SlidingCounter, type WindowCounter } from '../obs/window.js';
import type { Logger } from '../obs/logger.js';
import type { CounterStore, WindowDelta } from './counters.js';

/** Keys per kind sent in one sync; the rest wait for the next one (Redis stays responsive). */
const MAX_BATCH = 2000;

/**
 * Rate-limit buckets the fleet shares. Every decision is local and synchronous (a request never
 * waits for Redis): this instance's bucket hands out tokens and remembers how many; each sync
 * sends that count to the shared bucket and replaces the local one with what the fleet has left.
 * So the fleet-wide long-run rate is the configured one, and a burst across instances overshoots
 * by at most what each instance hands out within one sync interval. Without the store, the local
 * buckets are the limit (per instance, as with a single instance).
 */
export class SharedBuckets implements RateLimiter {
  private readonly local: TokenBuckets;
  private readonly pending = new Map<string, number>();

  constructor(readonly scope: string, readonly rate: number, readonly burst: number, now: () => number = Date.now) {
    this.local = new TokenBuckets(rate, burst, now);
  }

  get enabled(): boolean { return this.rate > 0; }

  take(key: string): number {
    const wait = this.local.take(key);
    if (!wait && this.enabled) this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    return wait;
  }

  /** What was handed out since the last sync (removed from pending: it is in flight now). */
  drain(): { key: string; used: number }[] {
    const out: { key: string; used: number }[] = [];
    for (const [key, used] of this.pending) {
      if (out.length >= MAX_BATCH) break;
      out.push({ key, used });
      this.pending.delete(key);
    }
    return out;
  }

  /** The fleet's answer; tokens handed out while it travelled are still ours to subtract. */
  apply(key: string, left: number): void { this.local.set(key, left - (this.pending.get(key) ?? 0)); }

  /** The store is unreachable: forget unsent counts (they would land as one burst of debt later). */
  forget(): void { this.pending.clear(); }
}

/**
 * A sliding-window counter the fleet shares, for anomaly rules. `add` and `total` answer at once
 * from what the fleet said at the last sync plus what this instance counted since. Each sync sends
 * the new counts and refreshes the totals of every key this instance touched in the last
 * `activeMs`, so a key that other instances push over a threshold is seen here at the next sync,
 * not only after this instance counts it again. A fleet total older than `staleMs` (store
 * unreachable) is ignored: the local count stands alone.
 */
export class SharedWindow implements WindowCounter {
  private readonly local: SlidingCounter;
  private readonly pending = new Map<string, number>();
  /** Keys touched recently, oldest first, with when. */
  private readonly active = new Map<string, number>();
  private readonly fleet = new Map<string, { total: number; at: number }>();

  constructor(readonly name: string, readonly windowMs: number, readonly slots: number, private readonly maxKeys: number,
    private readonly staleMs: number, private readonly activeMs: number, private readonly now: () => number = Date.now) {
    this.local = new SlidingCounter(windowMs, slots, maxKeys);
  }

  add(key: string, at: number, n = 1): number {
    const mine = this.local.add(key, at, n);
    this.pending.set(key, (this.pending.get(key) ?? 0) + n);
    this.touch(key);
    return Math.max(mine, this.fleetTotal(key) + (this.pending.get(key) ?? 0));
  }

  total(key: string, at: number): number {
    const mine = this.local.total(key, at);
    this.touch(key);
    return Math.max(mine, this.fleetTotal(key) + (this.pending.get(key) ?? 0));
  }

  drain(): Omit<WindowDelta, 'windowMs' | 'slots'>[] {
    const out: { key: string; added: number }[] = [];
    const sent = new Set<string>();
    for (const [key, added] of this.pending) {
      if (out.length >= MAX_BATCH) break;
      out.push({ key, added });
      sent.add(key);
      this.pending.delete(key);
    }
    const since = this.now() - this.activeMs;
    for (const [key, t] of this.active) {
      if (t < since) { this.active.delete(key); continue; }
      if (out.length >= MAX_BATCH) break;
      if (!sent.has(key)) out.push({ key, added: 0 });
    }
    return out;
  }

  apply(key: string, total: number): void {
    this.fleet.delete(key); // re-insert: Map order is our LRU order
    if (this.fleet.size >= this.maxKeys) this.fleet.delete(this.fleet.keys().next().value as string);
    this.fleet.set(key, { total, at: this.now() });
  }

  forget(): void { this.pending.clear(); }

  private touch(key: string): void {
    const t = this.now();
    const last = this.active.get(key);
    if (last !== undefined && t - last < 1000) return; // a Map delete + set per request feeds the old generation
    this.active.delete(key);
    if (this.active.size >= MAX_BATCH) this.active.delete(this.active.keys().next().value as string);
    this.active.set(key, t);
  }

  private fleetTotal(key: string): number {
    const f = this.fleet.get(key);
    return f && this.now() - f.at <= this.staleMs ? f.total : 0;
  }
}

/**
 * Owns the shared counters of one instance and syncs them with the store every `intervalMs`: one
 * batch call for all buckets and one for all windows. Never throws into a request: a failed sync
 * is logged once per outage and the counters go on alone.
 */
export class CounterSync {
  private readonly buckets: SharedBuckets[] = [];
  private readonly windows: SharedWindow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  syncs = 0;

  constructor(private readonly store: CounterStore, readonly intervalMs: number, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  limiter(scope: string, rate: number, burst: number): RateLimiter {
    const b = new SharedBuckets(scope, rate, burst, this.now);
    if (b.enabled) this.buckets.push(b);
    return b;
  }

  window(name: string, windowMs: number, slots = 60, maxKeys = 100_000): WindowCounter {
    const w = new SharedWindow(name, windowMs, slots, maxKeys, Math.max(2000, 5 * this.intervalMs), Math.max(5000, 20 * this.intervalMs), this.now);
    this.windows.push(w);
    return w;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { void this.flush(); }, this.intervalMs);
    this.timer.unref();
  }

  /** One sync; concurrent callers share the one under way. */
  flush(): Promise<void> {
    this.running ??= this.sync().finally(() => { this.running = undefined; });
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sync(): Promise<void> {
    if (!this.store.healthy()) return this.forget();
    try {
      await Promise.all([this.syncBuckets(), this.syncWindows()]);
      this.syncs++;
      if (this.failing) this.log.info('fleet-wide rate limits and alert counters are shared again');
      this.failing = false;
    } catch (err) {
      this.forget();
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'could not share rate limits and alert counters; counting per instance until the store answers');
      this.failing = true;
    }
  }

  private forget(): void {
    for (const b of this.buckets) b.forget();
    for (const w of this.windows) w.forget();
  }

  private syncBuckets(): Promise<void> {
    return exchange(this.buckets, (b, i) => ({ key: `rate:${b.scope}:${i.key}`, rate: b.rate, burst: b.burst, used: i.used }), (batch) => this.store.takeTokens(batch));
  }

  private syncWindows(): Promise<void> {
    return exchange(this.windows, (w, i) => ({ key: `win:${w.name}:${i.key}`, windowMs: w.windowMs, slots: w.slots, added: i.added }), (batch) => this.store.addToWindows(batch));
  }
}

/** Drains every counter, sends one batch, and hands each counter the store's answers for its keys. */
async function exchange<C extends { drain(): { key: string }[]; apply(key: string, value: number): void }, D>(
  counters: readonly C[], delta: (c: C, item: ReturnType<C['drain']>[number]) => D, send: (batch: D[]) => Promise<number[]>): Promise<void> {
  const parts = counters.map((c) => ({ c, items: c.drain() }));
  const batch = parts.flatMap(({ c, items }) => items.map((i) => delta(c, i)));
  if (!batch.length) return;
  const answers = await send(batch);
  let n = 0;
  for (const { c, items } of parts) for (const i of items) c.apply(i.key, answers[n++]!);
}
