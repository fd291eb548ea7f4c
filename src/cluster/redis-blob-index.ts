import type { Redis } from 'ioredis';
import type { BlobStore } from '../store/blob-store.js';
import type { Logger } from '../obs/logger.js';
import { microClock, Pins, type BlobIndex } from '../cache/blob-index.js';
import { parseDigest } from '../oci/digest.js';
import { ADD_BLOB, type IndexKeys } from './shared-index.js';

/** Removes a blob (KEYS sizes, lru, totals; ARGV digest): its size, or -1 when it was not indexed. */
const FORGET = `
local old = redis.call('hget', KEYS[1], ARGV[1])
if not old then return -1 end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('hincrby', KEYS[3], 'blobs', -1)
redis.call('hincrby', KEYS[3], 'bytes', -tonumber(old))
return tonumber(old)`;
/** The same, only if its last use is still the one the leader picked (ARGV[2]): a use by any instance since saves it. */
const EVICT = `local s = redis.call('zscore', KEYS[2], ARGV[1]) if (not s) or tonumber(s) ~= tonumber(ARGV[2]) then return -1 end ${FORGET}`;

const FLUSH_AT = 5000;
const EVICT_PAGE = 256;

/** The lease and completeness the index obeys (cluster/shared-index.ts). */
export interface IndexLeadership {
  complete(): boolean;
  /** Cached: whether this instance held the lease at its last check. */
  leading(): boolean;
  /** Asks Redis: takes or renews the lease. */
  lead(): Promise<boolean>;
}

export interface RedisBlobIndexOptions {
  /** How often the batch of uses (and the pins) is written; one pipeline each time. */
  flushEveryMs?: number;
  /** How long the leader waits between picking blobs and evicting them: a use on any instance before the pick reaches Redis within one flush, so two. */
  graceMs?: number;
  /** The wait itself (tests replace it with what other instances do meanwhile). */
  grace?: () => Promise<void>;
  clock?: () => number;
}

/**
 * The fleet's LRU in Redis: sizes in a hash, last use in a sorted set, totals in a hash, changed
 * together by Lua scripts. A warm hit costs a Map.set; each instance writes its uses once per
 * flush interval in one pipeline (ZADD GT: a late batch never moves a blob back). Pins are local,
 * but a pinned blob is written as used at every flush, so a long read stays young for the fleet.
 * Only the leader evicts, and only a blob whose last use did not change during the grace period.
 * `size` and `count` are what the last write or flush returned (reads are synchronous).
 */
export class RedisBlobIndex implements BlobIndex {
  private readonly pins = new Pins();
  private recent = new Map<string, { at: number; size?: number }>();
  private totals = { blobs: 0, bytes: 0 };
  private readonly writes = new Set<Promise<unknown>>();
  private evicting = false;
  private waitingLogged = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushEveryMs: number;
  private readonly grace: () => Promise<void>;
  private readonly clock: () => number;
  evictions = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: IndexKeys,
    private readonly lease: IndexLeadership,
    private readonly store: Pick<BlobStore, 'delete'>,
    private readonly maxSize: number,
    private readonly log: Logger,
    opts: RedisBlobIndexOptions = {},
  ) {
    this.flushEveryMs = opts.flushEveryMs ?? 1000;
    const graceMs = opts.graceMs ?? 2 * this.flushEveryMs;
    this.grace = opts.grace ?? (() => new Promise((r) => setTimeout(r, graceMs)));
    this.clock = opts.clock ?? microClock();
  }

  get size(): number { return this.totals.bytes; }
  get count(): number { return this.totals.blobs; }

  /** Reads the totals, then flushes every interval; the leader also evicts then (the others' commits fill the cache it trims). */
  async start(): Promise<void> {
    await this.flush().catch(() => {});
    this.timer = setInterval(() => void this.tick(), this.flushEveryMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    await this.flush().catch((e: Error) => this.log.debug({ err: e.message }, 'shared index: flush failed'));
    if (this.lease.leading() && this.maxSize > 0 && this.totals.bytes > this.maxSize) await this.evictIfNeeded();
  }

  /** A write the caller does not wait for (the BlobIndex calls are synchronous); Redis down loses it, and the next use re-indexes the blob. */
  private write(p: Promise<unknown>): void {
    const w = p.then((n) => n, (e: Error) => this.log.debug({ err: e.message }, 'shared index: write failed'));
    this.writes.add(w);
    void w.finally(() => this.writes.delete(w));
  }

  private script(lua: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis.eval(lua, 3, this.keys.sizes, this.keys.lru, this.keys.totals, ...args);
  }

  add(digest: string, size: number): void {
    this.recent.delete(digest);
    this.write(this.script(ADD_BLOB, digest, size, this.clock(), '0'));
  }

  touch(digest: string, size?: number): void {
    this.recent.set(digest, { at: this.clock(), size });
    if (this.recent.size >= FLUSH_AT) void this.flush().catch(() => {});
  }

  forget(digest: string): void {
    this.recent.delete(digest);
    this.write(this.script(FORGET, digest));
  }

  pin(digest: string): () => void { return this.pins.pin(digest); }

  /** One pipeline: the batch of uses, the pinned blobs as used now, then the totals (after every earlier write on this connection). */
  async flush(): Promise<void> {
    const batch = this.recent;
    this.recent = new Map();
    const p = this.redis.pipeline();
    for (const [d, u] of batch) {
      // Served but not indexed (a crash between commit and index, or Redis lost it): found, so indexed now.
      if (u.size !== undefined) p.eval(ADD_BLOB, 3, this.keys.sizes, this.keys.lru, this.keys.totals, d, u.size, u.at, '1');
      else p.zadd(this.keys.lru, 'XX', 'GT', u.at, d);
    }
    const now = this.clock();
    for (const d of this.pins.keys()) p.zadd(this.keys.lru, 'XX', 'GT', now, d);
    p.hmget(this.keys.totals, 'blobs', 'bytes');
    const results = (await p.exec()) ?? [];
    const [err, totals] = results[results.length - 1] ?? [new Error('no reply')];
    if (err) throw err;
    const [blobs, bytes] = totals as (string | null)[];
    this.totals = { blobs: Number(blobs ?? 0), bytes: Number(bytes ?? 0) };
  }

  async evictIfNeeded(): Promise<number> {
    if (this.maxSize <= 0 || this.evicting || !this.lease.leading()) return 0;
    this.evicting = true;
    try {
      await this.flush();
      if (this.totals.bytes <= this.maxSize) return 0;
      if (!this.lease.complete()) {
        // Evicting by an index that does not know every blob would pick the wrong ones.
        if (!this.waitingLogged) this.log.info({ max: this.maxSize }, 'cache over its size limit; eviction waits until the shared index is rebuilt');
        this.waitingLogged = true;
        return 0;
      }
      return await this.evict(this.maxSize * 0.9);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'shared index: eviction stopped (Redis or the store failed); the next commit or tick tries again');
      return 0;
    } finally { this.evicting = false; }
  }

  private async evict(target: number): Promise<number> {
    let removed = 0;
    let skipped = 0;
    while (this.totals.bytes > target) {
      const page = pairs(await this.redis.zrange(this.keys.lru, skipped, skipped + EVICT_PAGE - 1, 'WITHSCORES'));
      if (page.length === 0) break;
      await this.grace();
      await this.flush();
      if (!(await this.lease.lead())) break; // another instance leads now: it evicts
      for (const [digest, score] of page) {
        if (this.totals.bytes <= target) break;
        if (this.pins.has(digest) || this.recent.has(digest)) { skipped++; continue; }
        if (await this.evictOne(digest, score)) removed++;
      }
    }
    this.evictions += removed;
    if (removed) this.log.info({ removed, total: this.totals.bytes, max: this.maxSize }, 'evicted least-recently-used blobs (fleet leader)');
    return removed;
  }

  /** Out of the index first (the check that no one used it is atomic there), then out of the store; a failed delete puts the row back. */
  private async evictOne(digest: string, score: string): Promise<boolean> {
    const size = Number(await this.script(EVICT, digest, score));
    if (size < 0) return false; // used meanwhile (it moved to the back), or forgotten
    try {
      await this.store.delete(parseDigest(digest)); // absent already: the row goes too
    } catch (e) {
      await this.script(ADD_BLOB, digest, size, score, '1');
      throw e;
    }
    this.totals = { blobs: this.totals.blobs - 1, bytes: this.totals.bytes - size };
    return true;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.writes);
    if (this.redis.status === 'ready') await this.flush().catch(() => {});
  }
}

/** [member, score, member, score...] -> [[member, score]...]. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
