import type { BlobFetch } from './blob-fetch.js';

/**
 * Registry of downloads in progress, keyed by digest: the one place that decides "join the fetch
 * that is running" versus "start one". In-process now; the scale-out issue puts a Redis lease
 * implementation behind the same interface.
 */
export interface InflightFetches {
  get(digest: string): BlobFetch | undefined;
  /** Registers a new fetch; it is removed automatically when `settled` resolves or rejects. */
  add(digest: string, fetch: BlobFetch, settled: Promise<unknown>): void;
  readonly size: number;
  /** Clients currently reading from in-flight fetches. */
  waiting(): number;
}

export class LocalInflight implements InflightFetches {
  private readonly map = new Map<string, BlobFetch>();

  get(digest: string): BlobFetch | undefined { return this.map.get(digest); }

  add(digest: string, fetch: BlobFetch, settled: Promise<unknown>): void {
    this.map.set(digest, fetch);
    const remove = () => { if (this.map.get(digest) === fetch) this.map.delete(digest); };
    settled.then(remove, remove);
  }

  get size(): number { return this.map.size; }

  waiting(): number {
    let n = 0;
    for (const f of this.map.values()) n += f.waiting;
    return n;
  }
}
