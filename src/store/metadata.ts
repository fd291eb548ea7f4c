import type { StorageDriver } from './driver.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { blobLinkKey, manifestLinkKey, referrerKey, referrersPrefix, repoFromTagKey, tagKey, repoPrefix, type RepoKey } from './paths.js';

/** tag -> digest, with when it was last confirmed upstream (for the TTL and stale-if-error). */
export interface TagEntry { digest: string; mediaType: string; size: number; checkedAt: number }
export interface ManifestLink { mediaType: string; size: number }
/**
 * A repository's link to a blob. `size` is the blob's size as recorded when it was linked (the
 * committed download, the upstream's HEAD, the upload): a stored file of another size is damaged.
 * Links written by older versions are empty files: no size recorded.
 */
export interface BlobLink { size?: number }

/**
 * Repository metadata: tags, which manifests and blobs a repository may read, referrers.
 * Kept behind this interface so a store shared by several instances (Redis) can replace it.
 */
export interface MetadataStore {
  getTag(r: RepoKey, tag: string): Promise<TagEntry | undefined>;
  putTag(r: RepoKey, tag: string, e: TagEntry): Promise<void>;
  listTags(r: RepoKey): Promise<string[]>;
  getManifestLink(r: RepoKey, d: Digest): Promise<ManifestLink | undefined>;
  putManifestLink(r: RepoKey, d: Digest, link: ManifestLink): Promise<void>;
  hasBlobLink(r: RepoKey, d: Digest): Promise<boolean>;
  getBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined>;
  putBlobLink(r: RepoKey, d: Digest, size?: number): Promise<void>;
  addReferrer(r: RepoKey, subject: Digest, d: Digest, desc: Descriptor): Promise<void>;
  listReferrers(r: RepoKey, subject: Digest): Promise<Descriptor[]>;
  /** Every repository with cached content, as "registry/name". */
  listRepositories(): Promise<{ registry: string; name: string }[]>;
}

/**
 * What hosted (pushable) repositories need on top: deletes and listings for delete-by-digest and
 * garbage collection. A separate interface so a read-mostly store need not implement it.
 */
export interface MutableMetadataStore extends MetadataStore {
  deleteTag(r: RepoKey, tag: string): Promise<boolean>;
  deleteManifestLink(r: RepoKey, d: Digest): Promise<boolean>;
  deleteBlobLink(r: RepoKey, d: Digest): Promise<boolean>;
  removeReferrer(r: RepoKey, subject: Digest, d: Digest): Promise<void>;
  /** Digests (as strings) of every manifest linked in the repository. */
  listManifestLinks(r: RepoKey): Promise<string[]>;
}

/** Metadata as small files on the storage driver, with a bounded in-memory read cache. */
export class DriverMetadataStore implements MutableMetadataStore {
  private readonly hot = new Map<string, unknown>();
  private readonly maxHot: number;

  constructor(private readonly driver: StorageDriver, opts: { maxCached?: number } = {}) {
    this.maxHot = opts.maxCached ?? 50_000;
  }

  private remember(key: string, v: unknown): void {
    if (this.hot.size >= this.maxHot) this.hot.delete(this.hot.keys().next().value!);
    this.hot.set(key, v);
  }

  private async readJson<T>(key: string): Promise<T | undefined> {
    const hot = this.hot.get(key);
    // One lookup on a hit; `has` only tells a remembered "absent" from never read.
    if (hot !== undefined || this.hot.has(key)) return hot as T | undefined;
    const buf = await this.driver.get(key);
    let v: T | undefined;
    try { v = buf ? (JSON.parse(buf.toString('utf8')) as T) : undefined; } catch { v = undefined; }
    this.remember(key, v);
    return v;
  }

  private async writeJson(key: string, v: unknown): Promise<void> {
    await this.driver.put(key, Buffer.from(JSON.stringify(v)));
    this.remember(key, v);
  }

  getTag(r: RepoKey, tag: string) { return this.readJson<TagEntry>(tagKey(r, tag)); }
  putTag(r: RepoKey, tag: string, e: TagEntry) { return this.writeJson(tagKey(r, tag), e); }

  async listTags(r: RepoKey): Promise<string[]> {
    const prefix = `${repoPrefix(r)}/_tags/`;
    const out: string[] = [];
    for await (const e of this.driver.list(prefix)) {
      const t = e.key.slice(prefix.length);
      if (!t.includes('/')) out.push(t);
    }
    return out;
  }

  getManifestLink(r: RepoKey, d: Digest) { return this.readJson<ManifestLink>(manifestLinkKey(r, d)); }
  putManifestLink(r: RepoKey, d: Digest, link: ManifestLink) { return this.writeJson(manifestLinkKey(r, d), link); }

  async hasBlobLink(r: RepoKey, d: Digest): Promise<boolean> {
    return (await this.getBlobLink(r, d)) !== undefined;
  }

  async getBlobLink(r: RepoKey, d: Digest): Promise<BlobLink | undefined> {
    const key = blobLinkKey(r, d);
    const hot = this.hot.get(key);
    if (hot !== undefined) return hot as BlobLink;
    const buf = await this.driver.get(key);
    if (!buf) return undefined;
    let link: BlobLink = {};
    try { if (buf.length > 0) link = JSON.parse(buf.toString('utf8')) as BlobLink; } catch { link = {}; }
    if (!Number.isSafeInteger(link.size)) link = {};
    this.remember(key, link);
    return link;
  }

  async putBlobLink(r: RepoKey, d: Digest, size?: number): Promise<void> {
    const key = blobLinkKey(r, d);
    const hot = this.hot.get(key) as BlobLink | undefined;
    if (hot && (size === undefined || hot.size === size)) return;
    const link: BlobLink = size === undefined ? {} : { size };
    await this.driver.put(key, size === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(link)));
    this.remember(key, link);
  }

  /** Which repositories link each of these digests (one walk of every repository's links). */
  async blobLinks(digests: ReadonlySet<string>): Promise<Map<string, RepoKey[]>> {
    const out = new Map<string, RepoKey[]>();
    for await (const e of this.driver.list('repositories')) {
      const m = /\/_blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(e.key);
      const digest = m ? `${m[1]}:${m[2]}` : undefined;
      if (!digest || !digests.has(digest)) continue;
      const repo = repoFromTagKey(e.key.replace(/\/_blobs\/.*$/, '/_tags/x'));
      if (repo) out.set(digest, [...(out.get(digest) ?? []), repo]);
    }
    return out;
  }

  async addReferrer(r: RepoKey, subject: Digest, d: Digest, desc: Descriptor): Promise<void> {
    await this.driver.put(referrerKey(r, subject, d), Buffer.from(JSON.stringify(desc)));
  }

  async listReferrers(r: RepoKey, subject: Digest): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for await (const e of this.driver.list(referrersPrefix(r, subject))) {
      const buf = await this.driver.get(e.key);
      if (buf) { try { out.push(JSON.parse(buf.toString('utf8')) as Descriptor); } catch { /* skip a corrupt entry */ } }
    }
    return out;
  }

  private async forget(key: string): Promise<boolean> {
    // Drop the cached value before and after: a concurrent read must not re-cache the old one.
    this.hot.delete(key);
    const existed = await this.driver.delete(key);
    this.hot.delete(key);
    return existed;
  }

  deleteTag(r: RepoKey, tag: string) { return this.forget(tagKey(r, tag)); }
  deleteManifestLink(r: RepoKey, d: Digest) { return this.forget(manifestLinkKey(r, d)); }
  deleteBlobLink(r: RepoKey, d: Digest) { return this.forget(blobLinkKey(r, d)); }
  async removeReferrer(r: RepoKey, subject: Digest, d: Digest): Promise<void> { await this.driver.delete(referrerKey(r, subject, d)); }

  async listManifestLinks(r: RepoKey): Promise<string[]> {
    const prefix = `${repoPrefix(r)}/_manifests/`;
    const out: string[] = [];
    for await (const e of this.driver.list(prefix)) {
      const m = /^(\w+)\/([a-f0-9]+)$/.exec(e.key.slice(prefix.length));
      if (m) out.push(`${m[1]}:${m[2]}`);
    }
    return out;
  }

  async listRepositories(): Promise<{ registry: string; name: string }[]> {
    const seen = new Map<string, { registry: string; name: string }>();
    for await (const e of this.driver.list('repositories')) {
      const r = repoFromTagKey(e.key);
      if (r) seen.set(`${r.registry}/${r.name}`, r);
    }
    return [...seen.values()];
  }
}
