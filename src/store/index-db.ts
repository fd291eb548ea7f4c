import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { BlobLink, ManifestLink, TagEntry } from './metadata.js';
import type { RepoKey } from './paths.js';
import type { Descriptor } from '../oci/manifest.js';
import { displayName } from '../oci/repo.js';

/** Bumped when the tables change: an index of another version is rebuilt from the store. */
export const INDEX_SCHEMA = 1;

/** A repository as the catalog lists it: `display` is its name as clients see it (see displayName). */
export interface CatalogRow { registry: string; name: string; display: string }
export interface BlobRow { digest: string; size: number; atime: number }

export { displayName };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), blobs INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO totals VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, atime INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_lru ON blobs (atime, digest);
CREATE TRIGGER IF NOT EXISTS blobs_add AFTER INSERT ON blobs BEGIN UPDATE totals SET blobs = blobs + 1, bytes = bytes + new.size; END;
CREATE TRIGGER IF NOT EXISTS blobs_del AFTER DELETE ON blobs BEGIN UPDATE totals SET blobs = blobs - 1, bytes = bytes - old.size; END;
CREATE TRIGGER IF NOT EXISTS blobs_upd AFTER UPDATE OF size ON blobs BEGIN UPDATE totals SET bytes = bytes - old.size + new.size; END;
CREATE TABLE IF NOT EXISTS repos (registry TEXT NOT NULL, name TEXT NOT NULL, display TEXT NOT NULL, PRIMARY KEY (registry, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repos_display ON repos (display, registry, name);
CREATE TABLE IF NOT EXISTS tags (registry TEXT NOT NULL, name TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, checked_at INTEGER NOT NULL, PRIMARY KEY (registry, name, tag)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifest_links (registry TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (registry, name, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_links (registry TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER, PRIMARY KEY (registry, name, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links (digest);
CREATE TABLE IF NOT EXISTS referrers (registry TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL, digest TEXT NOT NULL, descriptor TEXT NOT NULL, PRIMARY KEY (registry, name, subject, digest)) WITHOUT ROWID;
`;

/** A metadata row's identity, for the rebuild's tombstones. */
export const rowKey = (kind: 'tag' | 'manifest' | 'blob' | 'referrer', r: RepoKey, id: string) => `${kind}\0${r.registry}\0${r.name}\0${id}`;

const TABLES = ['blobs', 'repos', 'tags', 'manifest_links', 'blob_links', 'referrers'];

/**
 * The cache's index in an embedded SQLite database (WAL): blob sizes and last use (LRU by an index,
 * not a JS Map, so memory stays flat as the cache grows), repositories for the catalog, tags, links
 * and referrers. It is derived data: the storage driver stays the source of truth and the index is
 * rebuilt from it (store/index-rebuild.ts). Calls are synchronous and take microseconds; the hot
 * path batches its writes (last-use times) so a warm hit costs no write.
 */
export class IndexDb {
  private readonly db: Database.Database;
  private readonly s;
  private defaultRegistry = 'docker.io';
  /** The default registry the stored display names were written for (checked once per change, not per page). */
  private displayedFor: string | undefined;
  /** Rows deleted while a rebuild runs: the rebuild must not bring them back from its (older) listing. */
  private tombstones: Set<string> | undefined;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a process crash loses nothing committed; an OS crash may lose the last
    // transactions, which the store (the source of truth) recovers (an unclean close starts a reconcile).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.s = this.statements();
  }

  private statements() {
    const p = (sql: string) => this.db.prepare(sql);
    return {
      getMeta: p('SELECT v FROM meta WHERE k = ?').pluck(),
      setMeta: p('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
      totals: p('SELECT blobs, bytes FROM totals WHERE id = 0'),
      putBlob: p('INSERT INTO blobs (digest, size, atime) VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE SET size = excluded.size, atime = max(atime, excluded.atime)'),
      addBlobIfAbsent: p('INSERT OR IGNORE INTO blobs (digest, size, atime) VALUES (?, ?, ?)'),
      hasBlob: p('SELECT size FROM blobs WHERE digest = ?').pluck(),
      touchBlob: p('UPDATE blobs SET atime = ? WHERE digest = ? AND atime < ?'),
      deleteBlob: p('DELETE FROM blobs WHERE digest = ?'),
      lru: p('SELECT digest, size, atime FROM blobs WHERE (atime, digest) > (?, ?) ORDER BY atime, digest LIMIT ?'),
      putRepo: p('INSERT OR IGNORE INTO repos (registry, name, display) VALUES (?, ?, ?)'),
      deleteRepo: p('DELETE FROM repos WHERE registry = ? AND name = ?'),
      repoInUse: p('SELECT EXISTS (SELECT 1 FROM tags WHERE registry = ? AND name = ?) OR EXISTS (SELECT 1 FROM manifest_links WHERE registry = ? AND name = ?)').pluck(),
      catalog: p('SELECT registry, name, display FROM repos WHERE display > ? ORDER BY display, registry, name LIMIT ?'),
      catalogFrom: p('SELECT registry, name, display FROM repos WHERE (display, registry, name) > (?, ?, ?) ORDER BY display, registry, name LIMIT ?'),
      allRepos: p('SELECT registry, name FROM repos'),
      redisplay: p('UPDATE repos SET display = CASE WHEN registry = \'_hosted\' OR registry = ? THEN name ELSE registry || \'/\' || name END'),
      getTag: p('SELECT digest, media_type AS mediaType, size, checked_at AS checkedAt FROM tags WHERE registry = ? AND name = ? AND tag = ?'),
      putTag: p('INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET digest = excluded.digest, media_type = excluded.media_type, size = excluded.size, checked_at = excluded.checked_at'),
      addTagIfAbsent: p('INSERT OR IGNORE INTO tags VALUES (?, ?, ?, ?, ?, ?, ?)'),
      deleteTag: p('DELETE FROM tags WHERE registry = ? AND name = ? AND tag = ?'),
      listTags: p('SELECT tag FROM tags WHERE registry = ? AND name = ? ORDER BY tag').pluck(),
      getManifest: p('SELECT media_type AS mediaType, size FROM manifest_links WHERE registry = ? AND name = ? AND digest = ?'),
      putManifest: p('INSERT INTO manifest_links VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET media_type = excluded.media_type, size = excluded.size'),
      addManifestIfAbsent: p('INSERT OR IGNORE INTO manifest_links VALUES (?, ?, ?, ?, ?)'),
      deleteManifest: p('DELETE FROM manifest_links WHERE registry = ? AND name = ? AND digest = ?'),
      listManifests: p('SELECT digest FROM manifest_links WHERE registry = ? AND name = ?').pluck(),
      getBlobLink: p('SELECT size FROM blob_links WHERE registry = ? AND name = ? AND digest = ?'),
      putBlobLink: p('INSERT INTO blob_links VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET size = coalesce(excluded.size, size)'),
      addBlobLinkIfAbsent: p('INSERT OR IGNORE INTO blob_links VALUES (?, ?, ?, ?)'),
      deleteBlobLink: p('DELETE FROM blob_links WHERE registry = ? AND name = ? AND digest = ?'),
      blobLinksOf: p('SELECT registry, name FROM blob_links WHERE digest = ?'),
      putReferrer: p('INSERT INTO referrers VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET descriptor = excluded.descriptor'),
      addReferrerIfAbsent: p('INSERT OR IGNORE INTO referrers VALUES (?, ?, ?, ?, ?)'),
      deleteReferrer: p('DELETE FROM referrers WHERE registry = ? AND name = ? AND subject = ? AND digest = ?'),
      listReferrers: p('SELECT descriptor FROM referrers WHERE registry = ? AND name = ? AND subject = ?').pluck(),
    };
  }

  // --- bookkeeping -------------------------------------------------------------------------

  meta(k: string): string | undefined { return this.s.getMeta.get(k) as string | undefined; }
  setMeta(k: string, v: string): void { this.s.setMeta.run(k, v); }
  /** Runs fn in one transaction (a batch of writes costs one commit). */
  batch<T>(fn: () => T): T { return this.db.transaction(fn)(); }
  /** Empties every table (before a full rebuild). */
  clear(): void {
    this.batch(() => {
      for (const t of TABLES) this.db.exec(`DELETE FROM ${t}`);
      this.db.exec('UPDATE totals SET blobs = 0, bytes = 0');
      this.setMeta('default-registry', this.defaultRegistry);
    });
  }
  totals(): { blobs: number; bytes: number } { return this.s.totals.get() as { blobs: number; bytes: number }; }
  /** Size of the database files on disk (for /metrics). */
  fileBytes(): number {
    const r = this.db.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get();
    return Number(r ?? 0);
  }
  close(): void { if (this.db.open) this.db.close(); }

  /** The catalog shows repositories of the default registry bare; a new default rewrites the names once. */
  setDefaultRegistry(registry: string): void {
    if (this.displayedFor === registry) return;
    this.defaultRegistry = registry;
    if (this.meta('default-registry') !== registry) this.batch(() => { this.s.redisplay.run(registry); this.setMeta('default-registry', registry); });
    this.displayedFor = registry;
  }

  /** From now until endRebuild(), deletes are remembered so the rebuild skips what they removed. */
  beginRebuild(): void { this.tombstones = new Set(); }
  endRebuild(): void { this.tombstones = undefined; }
  deletedDuringRebuild(key: string): boolean { return this.tombstones?.has(key) ?? false; }
  private tomb(key: string): void { this.tombstones?.add(key); }

  // --- blobs (LRU) --------------------------------------------------------------------------

  putBlob(digest: string, size: number, atime: number, ifAbsent = false): void {
    (ifAbsent ? this.s.addBlobIfAbsent : this.s.putBlob).run(digest, size, atime);
  }
  blobSize(digest: string): number | undefined { return this.s.hasBlob.get(digest) as number | undefined; }
  /** Uses in one transaction; a use that carries a size also indexes a blob the index did not know (INSERT OR IGNORE). */
  touchBlobs(entries: Iterable<[string, number, number | undefined]>): void {
    this.batch(() => {
      for (const [d, at, size] of entries) {
        if (size !== undefined) this.s.addBlobIfAbsent.run(d, size, at);
        this.s.touchBlob.run(at, d, at);
      }
    });
  }
  deleteBlob(digest: string): boolean { this.tomb(digest); return this.s.deleteBlob.run(digest).changes > 0; }
  /** Least recently used first, after (atime, digest): keyset paging, O(page) however large the cache. */
  lru(after: { atime: number; digest: string }, limit: number): BlobRow[] {
    return this.s.lru.all(after.atime, after.digest, limit) as BlobRow[];
  }

  // --- repositories -------------------------------------------------------------------------

  private repo(r: RepoKey): void { this.s.putRepo.run(r.registry, r.name, displayName(r, this.defaultRegistry)); }
  private dropRepoIfEmpty(r: RepoKey): void { if (!this.s.repoInUse.get(r.registry, r.name, r.registry, r.name)) this.s.deleteRepo.run(r.registry, r.name); }

  /** A catalog page in display order after `last` (display name, or the exact row to resume after). */
  catalog(after: string | CatalogRow | undefined, limit: number): CatalogRow[] {
    if (after === undefined) return this.s.catalog.all('', limit) as CatalogRow[];
    if (typeof after === 'string') return this.s.catalog.all(after, limit) as CatalogRow[];
    return this.s.catalogFrom.all(after.display, after.registry, after.name, limit) as CatalogRow[];
  }
  repositories(): RepoKey[] { return this.s.allRepos.all() as RepoKey[]; }

  // --- tags and links -----------------------------------------------------------------------

  getTag(r: RepoKey, tag: string): TagEntry | undefined { return this.s.getTag.get(r.registry, r.name, tag) as TagEntry | undefined; }
  putTag(r: RepoKey, tag: string, e: TagEntry, ifAbsent = false): void {
    this.batch(() => {
      (ifAbsent ? this.s.addTagIfAbsent : this.s.putTag).run(r.registry, r.name, tag, e.digest, e.mediaType, e.size, e.checkedAt);
      this.repo(r);
    });
  }
  deleteTag(r: RepoKey, tag: string): void { this.tomb(rowKey('tag', r, tag)); this.batch(() => { this.s.deleteTag.run(r.registry, r.name, tag); this.dropRepoIfEmpty(r); }); }
  listTags(r: RepoKey): string[] { return this.s.listTags.all(r.registry, r.name) as string[]; }

  getManifestLink(r: RepoKey, digest: string): ManifestLink | undefined { return this.s.getManifest.get(r.registry, r.name, digest) as ManifestLink | undefined; }
  putManifestLink(r: RepoKey, digest: string, l: ManifestLink, ifAbsent = false): void {
    this.batch(() => {
      (ifAbsent ? this.s.addManifestIfAbsent : this.s.putManifest).run(r.registry, r.name, digest, l.mediaType, l.size);
      this.repo(r);
    });
  }
  deleteManifestLink(r: RepoKey, digest: string): void { this.tomb(rowKey('manifest', r, digest)); this.batch(() => { this.s.deleteManifest.run(r.registry, r.name, digest); this.dropRepoIfEmpty(r); }); }
  listManifestLinks(r: RepoKey): string[] { return this.s.listManifests.all(r.registry, r.name) as string[]; }

  /** undefined: no link; a link without a recorded size reads as {}. */
  getBlobLink(r: RepoKey, digest: string): BlobLink | undefined {
    const row = this.s.getBlobLink.get(r.registry, r.name, digest) as { size: number | null } | undefined;
    return row ? (row.size === null ? {} : { size: row.size }) : undefined;
  }
  putBlobLink(r: RepoKey, digest: string, size: number | undefined, ifAbsent = false): void {
    (ifAbsent ? this.s.addBlobLinkIfAbsent : this.s.putBlobLink).run(r.registry, r.name, digest, size ?? null);
  }
  deleteBlobLink(r: RepoKey, digest: string): void { this.tomb(rowKey('blob', r, digest)); this.s.deleteBlobLink.run(r.registry, r.name, digest); }
  blobLinksOf(digest: string): RepoKey[] { return this.s.blobLinksOf.all(digest) as RepoKey[]; }

  putReferrer(r: RepoKey, subject: string, digest: string, desc: Descriptor, ifAbsent = false): void {
    (ifAbsent ? this.s.addReferrerIfAbsent : this.s.putReferrer).run(r.registry, r.name, subject, digest, JSON.stringify(desc));
  }
  deleteReferrer(r: RepoKey, subject: string, digest: string): void { this.tomb(rowKey('referrer', r, `${subject}/${digest}`)); this.s.deleteReferrer.run(r.registry, r.name, subject, digest); }
  listReferrers(r: RepoKey, subject: string): Descriptor[] {
    return (this.s.listReferrers.all(r.registry, r.name, subject) as string[]).map((s) => JSON.parse(s) as Descriptor);
  }
}
