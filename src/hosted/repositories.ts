import { RegistryError } from '../oci/errors.js';
import { digestOf, parseDigest, type Digest } from '../oci/digest.js';
import { parseManifest, referrerDescriptor, type Descriptor } from '../oci/manifest.js';
import { NotFoundError } from '../store/driver.js';
import type { MutableMetadataStore } from '../store/metadata.js';
import { HOSTED_REGISTRY, type RepoKey } from '../oci/repo.js';
import { parseRange } from '../oci/range.js';
import type { BlobResult, ManifestResult, Reference, ReferrersResult, RepositoryReader, TagPage } from '../oci/registry.js';
import { paginate } from '../oci/paging.js';
import { checkManifest } from './manifest-check.js';
import type { HostedContent } from './content.js';

export { HOSTED_REGISTRY };

/**
 * Hosted repositories: their read (RepositoryReader, like the pull-through cache, so the gateway's
 * handlers serve both) and write operations over the content store and the repository metadata.
 */
export class HostedRepositories implements RepositoryReader {
  constructor(readonly content: HostedContent, readonly meta: MutableMetadataStore, private readonly now: () => number = Date.now) {}

  // ---- read side (RepositoryReader): served from local storage only, never upstream -----------

  async manifest(repo: RepoKey, ref: Reference): Promise<ManifestResult> {
    let d: Digest;
    let mediaType: string;
    if (ref.kind === 'tag') {
      const t = await this.meta.getTag(repo, ref.value);
      if (!t) throw new RegistryError('MANIFEST_UNKNOWN', 'no such tag', { tag: ref.value });
      d = parseDigest(t.digest);
      mediaType = t.mediaType;
    } else {
      d = parseDigest(ref.value);
      const link = await this.meta.getManifestLink(repo, d);
      if (!link) throw new RegistryError('MANIFEST_UNKNOWN', 'no such manifest in this repository', { digest: d.value });
      mediaType = link.mediaType;
    }
    const bytes = await this.content.get(d);
    // Verified on every read: corrupted bytes must never be served under this digest.
    if (!bytes || digestOf(bytes, d.algorithm) !== d.value) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest content is missing', { digest: d.value });
    return { bytes, mediaType, digest: d.value, result: 'hit' };
  }

  async blob(repo: RepoKey, d: Digest, opts: { head: boolean; range?: string }): Promise<BlobResult> {
    const st = await this.linkedContent(repo, d);
    if (!st) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to this repository', { digest: d.value });
    this.content.used(d.value);
    const range = parseRange(opts.range, st.size);
    if (opts.head) return { size: st.size, range, result: 'hit' };
    try {
      return { size: st.size, range, body: await this.content.read(d, range), result: 'hit' };
    } catch (e) {
      if (e instanceof NotFoundError) throw new RegistryError('BLOB_UNKNOWN');
      throw e;
    }
  }

  async tags(repo: RepoKey, n?: string, last?: string): Promise<TagPage> {
    const tags = (await this.meta.listTags(repo)).sort();
    if (tags.length === 0 && (await this.meta.listManifestLinks(repo)).length === 0) {
      throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo.name });
    }
    const p = paginate(tags, n, last);
    return { tags: p.page, ...(p.next !== undefined ? { next: p.next } : {}), result: 'hit' };
  }

  async referrers(repo: RepoKey, subject: Digest, artifactType?: string): Promise<ReferrersResult> {
    const all = await this.meta.listReferrers(repo, subject);
    const manifests = artifactType ? all.filter((m) => m.artifactType === artifactType) : all;
    return { manifests, filtered: artifactType !== undefined, result: 'hit' };
  }

  /** Hosted repositories that hold at least one manifest. */
  async repositories(): Promise<RepoKey[]> {
    return (await this.meta.listRepositories()).filter((r) => r.registry === HOSTED_REGISTRY);
  }

  /**
   * A blob is readable from a repository when the repository links it (pushed or mounted there,
   * or it is one of its manifests) and its content exists. Scoping every lookup to the
   * repository keeps one tenant from probing another's blobs by digest.
   */
  async linkedContent(repo: RepoKey, d: Digest): Promise<{ size: number } | undefined> {
    const link = await this.meta.getBlobLink(repo, d);
    const manifest = link ? undefined : await this.meta.getManifestLink(repo, d);
    if (!link && !manifest) return undefined;
    const st = await this.content.stat(d);
    const recorded = link?.size ?? manifest?.size;
    // Pushed content whose size is not the recorded one is damaged: never served as this digest.
    if (st && recorded !== undefined && st.size !== recorded) { this.onDamaged?.(d, st.size, recorded); return undefined; }
    return st;
  }

  /** Called when stored content is found damaged (logged by the gateway). */
  onDamaged: ((d: Digest, size: number, recorded: number) => void) | undefined;

  // ---- write side ------------------------------------------------------------------------------

  /** Records that a repository holds a blob (after an upload or a mount), with its size. */
  async linkBlob(repo: RepoKey, d: Digest, size?: number): Promise<void> {
    await this.meta.putBlobLink(repo, d, size ?? (await this.content.stat(d))?.size);
  }

  /**
   * Manifest PUT: checks (checkManifest), requires every referenced blob and child manifest in
   * this repository (one MANIFEST_BLOB_UNKNOWN per missing digest), stores the bytes unchanged,
   * links, tags and records the subject for the referrers API.
   */
  async putManifest(repo: RepoKey, ref: { kind: 'tag' | 'digest'; value: string }, bytes: Buffer, contentType: string | undefined): Promise<{ digest: string; subject?: string }> {
    const m = checkManifest(bytes, contentType, ref);
    const missing: Descriptor[] = [...m.unknowable];
    for (const b of m.blobs) {
      const d = parseDigest(b.digest);
      if (await this.linkedContent(repo, d)) this.content.used(d.value); else missing.push(b);
    }
    for (const c of m.manifests) {
      const d = parseDigest(c.digest);
      if (await this.meta.getManifestLink(repo, d)) this.content.used(d.value); else missing.push(c);
    }
    if (missing.length > 0) {
      const errors = missing.map((x) => new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest references content unknown to this repository', { digest: x.digest }));
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', errors[0]!.message, { digest: missing[0]!.digest }, { also: errors.slice(1) });
    }
    await this.content.putVerified(m.digest, bytes);
    await this.meta.putManifestLink(repo, m.digest, { mediaType: m.mediaType, size: bytes.length });
    if (ref.kind === 'tag') await this.meta.putTag(repo, ref.value, { digest: m.digest.value, mediaType: m.mediaType, size: bytes.length, checkedAt: this.now() });
    let subject: string | undefined;
    if (m.info.subject) {
      subject = m.info.subject.digest;
      const sd = safeDigest(subject);
      if (sd) await this.meta.addReferrer(repo, sd, m.digest, referrerDescriptor(m.info, m.digest.value, bytes.length));
      else subject = undefined;
    }
    return { digest: m.digest.value, subject };
  }

  /** DELETE manifests/<tag>: only the tag. DELETE manifests/<digest>: the manifest, its tags, its referrer entry. */
  async deleteManifest(repo: RepoKey, ref: { kind: 'tag' | 'digest'; value: string }): Promise<void> {
    if (ref.kind === 'tag') {
      if (!(await this.meta.deleteTag(repo, ref.value))) throw new RegistryError('MANIFEST_UNKNOWN', 'no such tag', { tag: ref.value });
      return;
    }
    const d = parseDigest(ref.value);
    if (!(await this.meta.getManifestLink(repo, d))) throw new RegistryError('MANIFEST_UNKNOWN', 'no such manifest in this repository', { digest: d.value });
    for (const tag of await this.meta.listTags(repo)) {
      const t = await this.meta.getTag(repo, tag);
      if (t?.digest === d.value) await this.meta.deleteTag(repo, tag);
    }
    const bytes = await this.content.get(d);
    if (bytes) {
      try {
        const subject = parseManifest(bytes).subject;
        const sd = subject ? safeDigest(subject.digest) : undefined;
        if (sd) await this.meta.removeReferrer(repo, sd, d);
      } catch { /* unparseable content: nothing to unindex */ }
    }
    await this.meta.deleteManifestLink(repo, d);
  }

  /** DELETE blobs/<digest>: unlinks it from the repository (GC removes the bytes if unused). */
  async deleteBlob(repo: RepoKey, d: Digest): Promise<void> {
    if (!(await this.meta.deleteBlobLink(repo, d))) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to this repository', { digest: d.value });
  }
}

function safeDigest(s: string): Digest | undefined {
  try { return parseDigest(s); } catch { return undefined; }
}
