import { randomUUID } from 'node:crypto';
import type { Logger } from '../obs/logger.js';
import type { Descriptor } from '../oci/manifest.js';
import type { StorageDriver } from './driver.js';
import { INDEX_SCHEMA, rowKey, type IndexDb } from './index-db.js';
import type { IndexCompleteness } from './indexed-metadata.js';
import type { ManifestLink, TagEntry } from './metadata.js';
import type { RepoKey } from './paths.js';

/** Names this store, so an index built from another store (a moved or restored folder) is never trusted. */
export const STORE_ID_KEY = 'maintenance/store-id';
const BATCH = 2000;
const READS_AT_ONCE = 64;

export type IndexPhase = 'ready' | 'rebuilding' | 'reconciling';
export interface IndexProgress {
  phase: IndexPhase;
  /** Why the last (re)build ran: no index, another schema, another store, an interrupted build, an unclean stop, asked for. */
  reason?: string;
  /** Store objects looked at so far in the current (or last) build. */
  scanned: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
}

/**
 * Keeps the SQLite index in step with the store it describes. At start it decides, in O(1): the
 * index is trusted as it is, or rebuilt from the store (none yet, another schema, another store,
 * an interrupted build), or reconciled (the last process stopped without closing it: rows written
 * to the store but not to the index are added). Either runs in the background while the gateway
 * serves; until it ends, `complete()` is false: reads fall back to the store and eviction waits.
 */
export class IndexKeeper implements IndexCompleteness {
  readonly progress: IndexProgress = { phase: 'ready', scanned: 0 };
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly db: IndexDb, private readonly driver: StorageDriver, private readonly log: Logger) {}

  complete(): boolean { return this.progress.phase === 'ready'; }

  /** Opens the index for this process; `building`: the background build, if one was needed (not awaited here). */
  async open(): Promise<{ building?: Promise<void> }> {
    const storeId = await this.storeId();
    const why = this.db.meta('schema') !== String(INDEX_SCHEMA) ? (this.db.meta('schema') ? 'another index schema' : 'no index yet')
      : this.db.meta('store-id') !== storeId ? 'the index describes another store'
      : this.db.meta('complete') !== '1' ? 'the last build was interrupted'
      : this.db.meta('open') === '1' ? 'the last process stopped without closing the index' : undefined;
    this.db.setMeta('open', '1');
    if (!why) return {};
    const full = why !== 'the last process stopped without closing the index';
    if (full) { this.db.clear(); this.db.setMeta('schema', String(INDEX_SCHEMA)); this.db.setMeta('store-id', storeId); }
    return { building: this.start(full ? 'rebuilding' : 'reconciling', why) };
  }

  /** A full rebuild now (`regway index rebuild`, or the admin asking): every row is read again from the store. */
  rebuild(reason = 'asked for'): Promise<void> {
    if (this.running) return this.running;
    this.db.clear();
    return this.start('rebuilding', reason);
  }

  private start(phase: IndexPhase, reason: string): Promise<void> {
    Object.assign(this.progress, { phase, reason, scanned: 0, startedAt: Date.now(), finishedAt: undefined, error: undefined });
    this.db.setMeta('complete', '0');
    this.db.beginRebuild();
    this.log.info({ reason, phase }, 'cache index: building from the store in the background (serving meanwhile; eviction waits until it is done)');
    this.running = this.scan().then(() => {
      this.db.setMeta('complete', '1');
      Object.assign(this.progress, { phase: 'ready', finishedAt: Date.now() });
      const t = this.db.totals();
      this.log.info({ blobs: t.blobs, bytes: t.bytes, scanned: this.progress.scanned, ms: Date.now() - this.progress.startedAt! }, 'cache index: complete');
    }, (e: Error) => {
      this.progress.error = e.message;
      if (e instanceof Stopped) return;
      this.log.error({ err: e.message }, 'cache index: building failed; reads fall back to the store until the next start or `regway index rebuild`');
    }).finally(() => { this.db.endRebuild(); this.running = undefined; });
    return this.running;
  }

  /** Waits for a build under way (tests, `regway gc`). */
  async settled(): Promise<void> { await this.running; }

  /** Marks a clean stop: the next start trusts the index without a reconcile (a build cut short starts again). */
  async close(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => {});
    this.db.setMeta('open', '0');
  }

  private async storeId(): Promise<string> {
    const got = await this.driver.get(STORE_ID_KEY);
    if (got && got.length > 0) return got.toString('utf8');
    const id = randomUUID();
    await this.driver.put(STORE_ID_KEY, Buffer.from(id));
    return id;
  }

  private async scan(): Promise<void> {
    await this.scanBlobs();
    await this.scanRepositories();
  }

  private async scanBlobs(): Promise<void> {
    let rows: [string, number, number][] = [];
    const flush = () => {
      const batch = rows;
      rows = [];
      this.db.batch(() => { for (const [d, size, at] of batch) if (!this.db.deletedDuringRebuild(d)) this.db.putBlob(d, size, at, true); });
    };
    for await (const e of this.driver.list('blobs')) {
      this.progress.scanned++;
      const m = /^blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(e.key);
      if (m) rows.push([`${m[1]}:${m[2]}`, e.size, Math.round(e.mtimeMs * 1000)]); // the index keeps microseconds
      if (rows.length >= BATCH) { flush(); await this.pause(); }
    }
    flush();
  }

  private async scanRepositories(): Promise<void> {
    let keys: string[] = [];
    for await (const e of this.driver.list('repositories')) {
      this.progress.scanned++;
      keys.push(e.key);
      if (keys.length >= READS_AT_ONCE) { await this.indexEntries(keys); keys = []; }
    }
    await this.indexEntries(keys);
  }

  /** Reads a few metadata files at once, then indexes them in one transaction (skipping what was deleted meanwhile). */
  private async indexEntries(keys: string[]): Promise<void> {
    const read = await Promise.all(keys.map(async (key) => ({ entry: parseRepositoryKey(key), body: await this.driver.get(key) })));
    this.db.batch(() => { for (const { entry, body } of read) if (entry && body) this.indexEntry(entry, body); });
    await this.pause();
  }

  private async pause(): Promise<void> {
    await yieldToServing();
    if (this.stopping) throw new Stopped();
  }

  private indexEntry(e: RepositoryEntry, body: Buffer): void {
    const { repo, kind, id } = e;
    if (this.db.deletedDuringRebuild(rowKey(kind, repo, id))) return;
    const json = parseJson(body);
    if (kind === 'tag') {
      const t = json as TagEntry | undefined;
      if (t && typeof t.digest === 'string') this.db.putTag(repo, id, { digest: t.digest, mediaType: String(t.mediaType ?? ''), size: Number(t.size ?? 0), checkedAt: Number(t.checkedAt ?? 0) }, true);
    } else if (kind === 'manifest') {
      const l = json as ManifestLink | undefined;
      if (l && typeof l.mediaType === 'string') this.db.putManifestLink(repo, id, { mediaType: l.mediaType, size: Number(l.size ?? 0) }, true);
    } else if (kind === 'blob') {
      const size = (json as { size?: unknown } | undefined)?.size;
      this.db.putBlobLink(repo, id, Number.isSafeInteger(size) ? (size as number) : undefined, true);
    } else if (json) {
      const [subject, digest] = id.split('/') as [string, string];
      this.db.putReferrer(repo, subject, digest, json as Descriptor, true);
    }
  }
}

interface RepositoryEntry { repo: RepoKey; kind: 'tag' | 'manifest' | 'blob' | 'referrer'; id: string }
const KINDS = { tags: 'tag', manifests: 'manifest', blobs: 'blob', referrers: 'referrer' } as const;

/**
 * The inverse of store/paths.ts for one metadata file. Name components never start with `_`
 * (the reference grammar), so the first `/_tags/`-like segment ends the name.
 */
export function parseRepositoryKey(key: string): RepositoryEntry | undefined {
  const m = /^repositories\/([^/]+)\/(.+?)\/_(tags|manifests|blobs|referrers)\/(.+)$/.exec(key);
  if (!m) return undefined;
  const repo = { registry: m[1]!.replace(/_(\d+)$/, ':$1'), name: m[2]! };
  const kind = KINDS[m[3] as keyof typeof KINDS];
  const rest = m[4]!;
  if (kind === 'tag') return rest.includes('/') ? undefined : { repo, kind, id: rest };
  if (kind === 'referrer') {
    const r = /^(sha256|sha512)-([0-9a-f]+)\/(sha256|sha512)-([0-9a-f]+)$/.exec(rest);
    return r ? { repo, kind, id: `${r[1]}:${r[2]}/${r[3]}:${r[4]}` } : undefined;
  }
  const d = /^(sha256|sha512)\/([0-9a-f]+)$/.exec(rest);
  return d ? { repo, kind, id: `${d[1]}:${d[2]}` } : undefined;
}

function parseJson(b: Buffer): unknown {
  if (b.length === 0) return undefined;
  try { return JSON.parse(b.toString('utf8')); } catch { return undefined; }
}

/** Lets requests run between batches: a rebuild must never stall the gateway it runs in. */
const yieldToServing = () => new Promise<void>((r) => setImmediate(r));

class Stopped extends Error { constructor() { super('stopped: the process is shutting down'); } }
