import type { BlobStore } from '../store/blob-store.js';
import type { Logger } from '../obs/logger.js';
import { parseDigest } from '../oci/digest.js';

interface Entry { size: number; pins: number; touchedAt: number }

/**
 * Sizes and recency of cached blobs (by digest) for LRU eviction under a size cap. A Map keeps insertion order,
 * so delete+set on every access makes iteration order least-recently-used first: O(1) per access.
 * Pinned blobs (being read or written) are never evicted: evicting a blob under a reader is the
 * bug distribution has (#2367, #4872).
 */
export class BlobIndex {
  private readonly entries = new Map<string, Entry>();
  private total = 0;
  private evicting = false;
  evictions = 0;

  constructor(private readonly store: Pick<BlobStore, 'list' | 'delete' | 'touch'>, private readonly maxSize: number, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  get size(): number { return this.total; }
  get count(): number { return this.entries.size; }

  /** Rebuilds the index from the store, oldest first (mtime is refreshed on access, see touch()). */
  async load(): Promise<void> {
    const found: { digest: string; size: number; mtimeMs: number }[] = [];
    for await (const e of this.store.list()) found.push(e);
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const e of found) this.add(e.digest, e.size, e.mtimeMs);
  }

  add(key: string, size: number, at = this.now()): void {
    const old = this.entries.get(key);
    if (old) { this.entries.delete(key); this.total -= old.size; }
    this.entries.set(key, { size, pins: old?.pins ?? 0, touchedAt: at });
    this.total += size;
  }

  has(key: string): boolean { return this.entries.has(key); }

  /** Marks a blob as just used; persists recency at most hourly per blob so restarts keep the order. */
  touch(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.entries.set(key, e);
    const now = this.now();
    if (now - e.touchedAt > 3_600_000) { e.touchedAt = now; void this.store.touch(parseDigest(key)).catch(() => {}); }
  }

  pin(key: string): () => void {
    const e = this.entries.get(key);
    if (e) e.pins++;
    let released = false;
    return () => { if (!released && e) { released = true; e.pins--; } };
  }

  forget(key: string): void {
    const e = this.entries.get(key);
    if (e) { this.entries.delete(key); this.total -= e.size; }
  }

  /** Evicts least-recently-used, unpinned blobs until the total is under 90% of the cap. */
  async evictIfNeeded(): Promise<number> {
    if (this.maxSize <= 0 || this.total <= this.maxSize || this.evicting) return 0;
    this.evicting = true;
    let removed = 0;
    try {
      const target = this.maxSize * 0.9;
      for (const [key, e] of [...this.entries]) {
        if (this.total <= target) break;
        if (e.pins > 0) continue;
        await this.store.delete(parseDigest(key));
        this.forget(key);
        removed++;
      }
      this.evictions += removed;
      if (removed) this.log.info({ removed, total: this.total, max: this.maxSize }, 'evicted least-recently-used blobs');
    } finally { this.evicting = false; }
    return removed;
  }
}
