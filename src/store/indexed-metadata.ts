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

  private async readTag(r: RepoKey, tag: string): Promise<TagEntry | undefined> {
    const row = this.db.getTag(r, tag);
    if (row || this.complete) return row;
    const e = await this.files.getTag(r, tag);
    if (e) this.db.putTag(r, tag, e, true);
    return e;
  }

  async putTag(r: RepoKey, tag: string, e: TagEntry): Promise<void> {
    this.hot.delete(tagKey(r, tag));
    await this.files.putTag(r, tag, e);
    this.db.putTag(r, tag, e);
    this.hot.delete(tagKey(r, tag));
  }

  async listTags(r: RepoKey): Promise<string[]> { return this.complete ? this.db.listTags(r) : this.files.listTags(r); }

  getManifestLink(r: RepoKey, d: Digest): Promise<ManifestLink | undefined> { return this.remembered(manifestLinkKey(r, d), () => this.readManifestLink(r, d)); }

  private async readManifestLink(r: RepoKey, d: Digest): Promise<ManifestLink | undefined> {
    const row = this.db.getManifestLink(r, d.value);
    if (row || this.complete) return row;
    const l = await this.files.getManifestLink(r, d);
    if (l) this.db.putManifestLink(r, d.value, l, true);
    return l;
  }

  async putManifestLink(r: RepoKey, d: Digest, link: ManifestLink): Promise<void> {
    this.hot.delete(manifestLinkKey(r, d));
    await this.files.putManifestLink(r, d, link);
    this.db.putManifestLink(r, d.value, link);
    this.hot.delete(manifestLinkKey(r, d));
  }

  async hasBlobLink(r: RepoKey, d: Digest): Promise<boolean> { return (await this.getBlobLink(r, d)) !== undefined; }

  getBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined> { return this.remembered(blobLinkKey(r, d), () => this.readBlobLink(r, d)); }

  private async readBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined> {
    const row = this.db.getBlobLink(r, d.value);
    if (row || this.complete) return row;
    const l = await this.files.getBlobLink(r, d);
    if (l) this.db.putBlobLink(r, d.value, l.size, true);
    return l;
  }

  async putBlobLink(r: RepoKey, d: Digest, size?: number): Promise<void> {
    this.hot.delete(blobLinkKey(r, d));
    await this.files.putBlobLink(r, d, size);
    this.db.putBlobLink(r, d.value, size);
    this.hot.delete(blobLinkKey(r, d));
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

  async deleteTag(r: RepoKey, tag: string): Promise<boolean> {
    this.hot.delete(tagKey(r, tag));
    const existed = await this.files.deleteTag(r, tag);
    this.db.deleteTag(r, tag);
    this.hot.delete(tagKey(r, tag));
    return existed;
  }

  async deleteManifestLink(r: RepoKey, d: Digest): Promise<boolean> {
    this.hot.delete(manifestLinkKey(r, d));
    const existed = await this.files.deleteManifestLink(r, d);
    this.db.deleteManifestLink(r, d.value);
    this.hot.delete(manifestLinkKey(r, d));
    return existed;
  }

  async deleteBlobLink(r: RepoKey, d: Digest): Promise<boolean> {
    this.hot.delete(blobLinkKey(r, d));
    const existed = await this.files.deleteBlobLink(r, d);
    this.db.deleteBlobLink(r, d.value);
    this.hot.delete(blobLinkKey(r, d));
    return existed;
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
