import type { BlobStore } from '../store/blob-store.js';
import type { BlobRow, IndexDb } from '../store/index-db.js';
import type { IndexCompleteness } from '../store/indexed-metadata.js';
import type { Logger } from '../obs/logger.js';
import { parseDigest } from '../oci/digest.js';

/**
 * Sizes and recency of cached blobs (by digest) for LRU eviction under a size cap. Pinned blobs
 * (being read or written) are never evicted: evicting a blob under a reader is the bug
 * distribution has (#2367, #4872). Implementations: SqliteBlobIndex (one instance) and the fleet's
 * shared index (cluster/redis-blob-index.ts); both pass blob-index.suite.ts.
 */
export interface BlobIndex {
  /** Bytes and blobs indexed. */
  readonly size: number;
  readonly count: number;
  /** Blobs evicted since start. */
  readonly evictions: number;
  /** A blob was committed (or found in the store): indexed as just used. */
  add(digest: string, size: number): void;
  /** A blob was served; `size` lets a blob the index does not know yet (a crash before its row) be indexed. Batched: no write per call. */
  touch(digest: string, size?: number): void;
  pin(digest: string): () => void;
  /** The blob is gone from the store. */
  forget(digest: string): void;
  /** Evicts least-recently-used, unpinned blobs until the total is under 90% of the cap. */
  evictIfNeeded(): Promise<number>;
  /** Writes batched recency now (before eviction, at shutdown); a shared index's totals are current once it resolves. */
  flush(): void | Promise<void>;
  close(): Promise<void>;
}

const FLUSH_EVERY_MS = 1000;
const FLUSH_AT = 5000;
const EVICT_PAGE = 256;
const DELETES_AT_ONCE = 8;
const rest = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 200)));

/** Blobs being read or written, counted: a blob is pinned until its last pin is released (each release counts once). */
export class Pins {
  private readonly counts = new Map<string, number>();

  pin(digest: string): () => void {
    this.counts.set(digest, (this.counts.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.counts.get(digest) ?? 1) - 1;
      if (n > 0) this.counts.set(digest, n); else this.counts.delete(digest);
    };
  }

  has(digest: string): boolean { return this.counts.has(digest); }
  keys(): IterableIterator<string> { return this.counts.keys(); }
}

/**
 * Last-use times are microseconds, strictly increasing within the process, so two uses in the
 * same millisecond keep their order.
 */
export function microClock(now: () => number = Date.now): () => number {
  let last = 0;
  return () => { last = Math.max(Math.round(now() * 1000), last + 1); return last; };
}

/**
 * The LRU on the SQLite index: O(1) memory in the number of blobs (only pins and the batch of
 * recent uses live in the process), eviction O(evicted) by the (atime) index. A warm hit costs a
 * Map.set; the batch is written once a second in one transaction.
 */
export class SqliteBlobIndex implements BlobIndex {
  private readonly pins = new Pins();
  private readonly recent = new Map<string, { at: number; size?: number }>();
  private totals: { blobs: number; bytes: number };
  private evicting = false;
  /** Blobs committed again while an eviction page is being deleted: their fresh rows must stay. */
  private readded: Set<string> | undefined;
  private waitingLogged = false;
  private timer: NodeJS.Timeout | undefined;
  evictions = 0;

  constructor(
    private readonly db: IndexDb,
    private readonly store: Pick<BlobStore, 'delete'>,
    private readonly state: IndexCompleteness,
    private readonly maxSize: number,
    private readonly log: Logger,
    private readonly clock: () => number = microClock(),
    /** false for offline `regway gc`: nothing to leave room for. */
    private readonly paced = true,
  ) {
    this.totals = db.totals();
  }

  get size(): number { return this.refresh().bytes; }
  get count(): number { return this.refresh().blobs; }

  /** The totals change under a background rebuild too; one single-row read. */
  private refresh() { this.totals = this.db.totals(); return this.totals; }

  add(digest: string, size: number): void {
    this.recent.delete(digest);
    this.readded?.add(digest);
    this.db.putBlob(digest, size, this.clock());
  }

  touch(digest: string, size?: number): void {
    this.recent.set(digest, { at: this.clock(), size });
    if (this.recent.size >= FLUSH_AT) this.flush();
    else if (!this.timer) { this.timer = setTimeout(() => this.flush(), FLUSH_EVERY_MS); this.timer.unref(); }
  }

  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.recent.size === 0) return;
    const batch = [...this.recent];
    this.recent.clear();
    // A use with a size also indexes a blob served but not indexed (a crash came between its commit and its row).
    this.db.touchBlobs(batch.map(([d, u]) => [d, u.at, u.size]));
  }

  pin(digest: string): () => void { return this.pins.pin(digest); }

  forget(digest: string): void {
    this.recent.delete(digest);
    this.db.deleteBlob(digest);
  }

  async evictIfNeeded(): Promise<number> {
    if (this.maxSize <= 0 || this.evicting || this.refresh().bytes <= this.maxSize) return 0;
    if (!this.state.complete()) {
      // Evicting by an index that does not know every blob would pick the wrong ones.
      if (!this.waitingLogged) this.log.info({ max: this.maxSize }, 'cache over its size limit; eviction waits until the index is built');
      this.waitingLogged = true;
      return 0;
    }
    this.evicting = true;
    try { return await this.evict(this.maxSize * 0.9); } finally { this.evicting = false; }
  }

  private async evict(target: number): Promise<number> {
    this.flush();
    let removed = 0;
    let after = { atime: -1, digest: '' };
    const tried = new Set<string>();
    while (this.refresh().bytes > target) {
      const page = this.db.lru(after, EVICT_PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1]!;
      // A blob committed again meanwhile comes back later in the order: it was tried once this run.
      const victims = this.pick(page, this.totals.bytes - target).filter((v) => !tried.has(v.digest));
      for (const v of victims) tried.add(v.digest);
      removed += await this.remove(victims);
    }
    this.evictions += removed;
    if (removed) this.log.info({ removed, total: this.refresh().bytes, max: this.maxSize }, 'evicted least-recently-used blobs');
    return removed;
  }

  /** The oldest unpinned, not just used blobs of a page, until `excess` bytes are covered. */
  private pick(page: BlobRow[], excess: number): BlobRow[] {
    const out: BlobRow[] = [];
    for (const row of page) {
      if (excess <= 0) break;
      if (this.pins.has(row.digest) || this.recent.has(row.digest)) continue;
      out.push(row);
      excess -= row.size;
    }
    return out;
  }

  /**
   * Deletes from the store a few at a time (one unlink or S3 DELETE each: waiting for them one by one
   * made eviction run at a few hundred blobs a second), then drops the rows. A blob pinned meanwhile
   * is left alone; one already gone from the store loses its row all the same. Eviction is
   * maintenance: after each group it rests twice as long as the group took, so serving keeps most of
   * the machine (deleting flat out, the warm manifest rate fell to a third while it ran; resting as
   * long as the group, to 0.78x).
   */
  private async remove(victims: BlobRow[]): Promise<number> {
    const gone: BlobRow[] = [];
    this.readded = new Set();
    for (let i = 0; i < victims.length; i += DELETES_AT_ONCE) {
      const t0 = performance.now();
      const group = victims.slice(i, i + DELETES_AT_ONCE).filter((v) => !this.pins.has(v.digest));
      await Promise.all(group.map((v) => this.store.delete(parseDigest(v.digest))));
      gone.push(...group);
      if (this.paced) await rest(2 * (performance.now() - t0));
    }
    // One transaction for the page, not one per group: each commit grows the WAL, and the
    // checkpoints it triggers run on the event loop (a commit per 8 blobs held warm hits back).
    const readded = this.readded;
    this.readded = undefined;
    const deleted = gone.filter((v) => !readded.has(v.digest));
    this.db.batch(() => { for (const v of deleted) this.db.deleteBlob(v.digest); });
    return deleted.length;
  }

  async close(): Promise<void> { this.flush(); }
}
