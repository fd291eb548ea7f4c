import type { BlobFetch } from './blob-fetch.js';

/**
 * Registry of downloads in progress, keyed by digest: the one place that decides "join the fetch
 * that is running" versus "start one". An interface, so that several instances sharing one store can
 * put a lease in Redis behind it and still fetch each blob once between them.
 */
export interface InflightFetches {
  get(digest: string): BlobFetch | undefined;
  /** Registers a new fetch; it is removed automatically when `settled` resolves or rejects. */
  add(digest: string, fetch: BlobFetch, settled: Promise<unknown>): void;
  readonly size: number;
  /** Clients currently reading from in-flight fetches. */
  waiting(): number;
  /** Resolves once every fetch under way has settled (graceful shutdown), or after the timeout. */
  drain(timeoutMs: number): Promise<void>;
}

export class LocalInflight implements InflightFetches {
  private readonly map = new Map<string, BlobFetch>();
  private readonly settling = new Set<Promise<unknown>>();

  get(digest: string): BlobFetch | undefined { return this.map.get(digest); }

  add(digest: string, fetch: BlobFetch, settled: Promise<unknown>): void {
    this.map.set(digest, fetch);
    const remove = () => { if (this.map.get(digest) === fetch) this.map.delete(digest); };
    const tracked = settled.then(remove, remove);
    this.settling.add(tracked);
    void tracked.then(() => this.settling.delete(tracked));
  }

  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); });
    await Promise.race([Promise.all([...this.settling]), timeout]);
    clearTimeout(timer);
  }

  get size(): number { return this.map.size; }

  waiting(): number {
    let n = 0;
    for (const f of this.map.values()) n += f.waiting;
    return n;
  }
}
