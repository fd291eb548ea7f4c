import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { CatalogIndex } from '../oci/registry.js';
import type { CatalogRow, IndexDb } from './index-db.js';
import type { BlobLink, DriverMetadataStore, ManifestLink, MutableMetadataStore, TagEntry } from './metadata.js';
import { blobLinkKey, manifestLinkKey, tagKey, type RepoKey } from './paths.js';

/** Whether the index holds everything the store holds (false while it is (re)built). */
export interface IndexCompleteness { complete(): boolean }

/**
 * Repository metadata with the store's files as the source of truth and the SQLite index as the
 * read side. Every write goes to the files first, then to the index, so a crash between the two
 * loses nothing (the reconcile after an unclean stop finds the file). Once the index is complete,
 * reads and listings are answered by it alone: a listing costs O(result), not a walk of the
 * store. Until then, a read the index cannot answer goes to the files (and is indexed on the way),
 * and listings come from the files.
 */
export class IndexedMetadataStore implements MutableMetadataStore, CatalogIndex {
  /**
   * Point reads remembered (found and absent), bounded: a warm pull reads the same tag and links
   * thousands of times a second, and a SQLite read costs ~10 µs where a Map costs 0.1. Every write
   * goes through this class, which forgets the key first, so nothing here is ever stale.
   */
  private readonly hot = new Map<string, unknown>();

  constructor(private readonly files: DriverMetadataStore, private readonly db: IndexDb, private readonly state: IndexCompleteness, private readonly maxHot = 20_000) {}

  /** The index's row; while it is being built and has none, the files' answer, indexed on the way. */
  private async read<T>(row: T | undefined, files: () => Promise<T | undefined>, index: (v: T) => void): Promise<T | undefined> {
    if (row || this.complete) return row;
    const v = await files();
    if (v) index(v);
    return v;
  }

  /** Files first, then the index; the remembered read is dropped before and after, so a read racing the write cannot keep the old value. */
  private async write<T>(key: string, files: () => Promise<T>, index: () => void): Promise<T> {
    this.hot.delete(key);
    const out = await files();
    index();
    this.hot.delete(key);
    return out;
  }

  private async remembered<T>(key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    const v = this.hot.get(key);
    if (v !== undefined || this.hot.has(key)) return v as T | undefined;
    const got = await read();
    if (this.hot.size >= this.maxHot) this.hot.delete(this.hot.keys().next().value!);
    this.hot.set(key, got);
    return got;
  }

  private get complete(): boolean { return this.state.complete(); }

  getTag(r: RepoKey, tag: string): Promise<TagEntry | undefined> { return this.remembered(tagKey(r, tag), () => this.readTag(r, tag)); }

  private readTag(r: RepoKey, tag: string): Promise<TagEntry | undefined> {
    return this.read(this.db.getTag(r, tag), () => this.files.getTag(r, tag), (e) => this.db.putTag(r, tag, e, true));
  }

  putTag(r: RepoKey, tag: string, e: TagEntry): Promise<void> {
    return this.write(tagKey(r, tag), () => this.files.putTag(r, tag, e), () => this.db.putTag(r, tag, e));
  }

  async listTags(r: RepoKey): Promise<string[]> { return this.complete ? this.db.listTags(r) : this.files.listTags(r); }

  getManifestLink(r: RepoKey, d: Digest): Promise<ManifestLink | undefined> { return this.remembered(manifestLinkKey(r, d), () => this.readManifestLink(r, d)); }

  private readManifestLink(r: RepoKey, d: Digest): Promise<ManifestLink | undefined> {
    return this.read(this.db.getManifestLink(r, d.value), () => this.files.getManifestLink(r, d), (l) => this.db.putManifestLink(r, d.value, l, true));
  }

  putManifestLink(r: RepoKey, d: Digest, link: ManifestLink): Promise<void> {
    return this.write(manifestLinkKey(r, d), () => this.files.putManifestLink(r, d, link), () => this.db.putManifestLink(r, d.value, link));
  }

  async hasBlobLink(r: RepoKey, d: Digest): Promise<boolean> { return (await this.getBlobLink(r, d)) !== undefined; }

  getBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined> { return this.remembered(blobLinkKey(r, d), () => this.readBlobLink(r, d)); }

  private readBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined> {
    return this.read(this.db.getBlobLink(r, d.value), () => this.files.getBlobLink(r, d), (l) => this.db.putBlobLink(r, d.value, l.size, true));
  }

  putBlobLink(r: RepoKey, d: Digest, size?: number): Promise<void> {
    return this.write(blobLinkKey(r, d), () => this.files.putBlobLink(r, d, size), () => this.db.putBlobLink(r, d.value, size));
  }

  async addReferrer(r: RepoKey, subject: Digest, d: Digest, desc: Descriptor): Promise<void> {
    await this.files.addReferrer(r, subject, d, desc);
    this.db.putReferrer(r, subject.value, d.value, desc);
  }

  async listReferrers(r: RepoKey, subject: Digest): Promise<Descriptor[]> {
    return this.complete ? this.db.listReferrers(r, subject.value) : this.files.listReferrers(r, subject);
  }

  async listRepositories(): Promise<{ registry: string; name: string }[]> {
    return this.complete ? this.db.repositories() : this.files.listRepositories();
  }

  /** A catalog page in display order, or undefined while the index is incomplete (the caller lists the files). */
  page(after: string | CatalogRow | undefined, limit: number, defaultRegistry: string): CatalogRow[] | undefined {
    if (!this.complete) return undefined;
    this.db.setDefaultRegistry(defaultRegistry);
    return this.db.catalog(after, limit);
  }

  deleteTag(r: RepoKey, tag: string): Promise<boolean> {
    return this.write(tagKey(r, tag), () => this.files.deleteTag(r, tag), () => this.db.deleteTag(r, tag));
  }

  deleteManifestLink(r: RepoKey, d: Digest): Promise<boolean> {
    return this.write(manifestLinkKey(r, d), () => this.files.deleteManifestLink(r, d), () => this.db.deleteManifestLink(r, d.value));
  }

  deleteBlobLink(r: RepoKey, d: Digest): Promise<boolean> {
    return this.write(blobLinkKey(r, d), () => this.files.deleteBlobLink(r, d), () => this.db.deleteBlobLink(r, d.value));
  }

  async removeReferrer(r: RepoKey, subject: Digest, d: Digest): Promise<void> {
    await this.files.removeReferrer(r, subject, d);
    this.db.deleteReferrer(r, subject.value, d.value);
  }

  async listManifestLinks(r: RepoKey): Promise<string[]> { return this.complete ? this.db.listManifestLinks(r) : this.files.listManifestLinks(r); }

  /** Which repositories link each of these digests: by the index when complete, else one walk of the files. */
  async blobLinks(digests: ReadonlySet<string>): Promise<Map<string, RepoKey[]>> {
    if (!this.complete) return this.files.blobLinks(digests);
    const out = new Map<string, RepoKey[]>();
    for (const d of digests) { const rs = this.db.blobLinksOf(d); if (rs.length) out.set(d, rs); }
    return out;
  }
}
