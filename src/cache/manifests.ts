import { RegistryError, isRegistryError } from '../oci/errors.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { parseManifest, referrerDescriptor } from '../oci/manifest.js';
import type { RepoKey } from '../oci/repo.js';
import type { TagEntry } from '../store/metadata.js';
import { upstreamsFailed } from '../upstream/registry-upstreams.js';
import { getManifest, headManifest } from '../upstream/verbs.js';
import { storageError, storageFailed } from '../store/errors.js';
import { routeFor, type CacheDeps, type CacheResult, type RegistryRoute } from './context.js';
import { ManifestMemory } from './manifest-memory.js';
import { SingleFlight } from './single-flight.js';


export type { ManifestResult as ManifestResponse } from '../oci/registry.js';
import type { ManifestResult as ManifestResponse } from '../oci/registry.js';

/**
 * Manifests, pull-through. By digest: immutable, served from cache once fetched. By tag: served
 * from cache within the tag TTL; after it, revalidated with a HEAD (which Docker Hub does not count
 * against its rate limit); when every upstream fails, the last known mapping is served (stale).
 */
/** One upstream fetch per (registry, repository, reference); built only past the cache hits, which need none. */
const flightKey = (repo: RepoKey, ref: string): string => `${repo.registry}/${repo.name}:${ref}`;

export class ManifestService {
  private readonly memory: ManifestMemory;
  private readonly flights = new SingleFlight<ManifestResponse>();
  /** Tags the origin recently said do not exist, until when. */
  private readonly missing = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: CacheDeps, memoryBytes: number) {
    this.memory = new ManifestMemory(memoryBytes);
    this.now = deps.now ?? Date.now;
  }

  async get(repo: RepoKey, ref: { kind: 'tag' | 'digest'; value: string }): Promise<ManifestResponse> {
    const route = routeFor(this.deps.routes, repo);
    if (ref.kind === 'digest') {
      const d = parseDigest(ref.value);
      const cached = await this.cachedByDigest(repo, d);
      if (cached) return cached;
      return this.flights.run(flightKey(repo, ref.value), () => this.fetchByDigest(route, repo, d));
    }
    const entry = await this.deps.meta.getTag(repo, ref.value);
    if (entry && this.now() - entry.checkedAt < route.tagTtl) {
      const bytes = await this.bytes(parseDigest(entry.digest));
      if (bytes) return { bytes, mediaType: entry.mediaType, digest: entry.digest, result: 'hit' };
    }
    const key = flightKey(repo, ref.value);
    const missingUntil = this.missing.get(key);
    if (missingUntil !== undefined) {
      // The same answer as the upstream's 404 (HEAD and GET must agree on it, byte for byte).
      if (missingUntil > this.now()) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { reference: ref.value });
      this.missing.delete(key);
    }
    return this.flights.run(key, async () => {
      try {
        return await this.refreshTag(route, repo, ref.value, entry);
      } catch (e) {
        // The origin's 404 is remembered briefly: a storm of requests for a missing tag costs one call.
        if (isRegistryError(e, 'MANIFEST_UNKNOWN') && route.negativeTtl > 0) this.rememberMissing(key, route.negativeTtl);
        throw e;
      }
    });
  }

  private rememberMissing(key: string, ttl: number): void {
    if (this.missing.size >= 10_000) this.missing.delete(this.missing.keys().next().value!);
    this.missing.set(key, this.now() + ttl);
  }

  private async cachedByDigest(repo: RepoKey, d: Digest): Promise<ManifestResponse | undefined> {
    const link = await this.deps.meta.getManifestLink(repo, d);
    if (!link) return undefined;
    const bytes = await this.bytes(d);
    return bytes ? { bytes, mediaType: link.mediaType, digest: d.value, result: 'hit' } : undefined;
  }

  private async bytes(d: Digest): Promise<Buffer | undefined> {
    const mem = this.memory.get(d.value);
    // A use all the same: a manifest only ever served from memory must not age out of the LRU and be evicted from the store.
    if (mem) { this.deps.index.touch(d.value, mem.length); return mem; }
    // Verified as it comes off disk: a corrupted file must never be served as this digest.
    const buf = await this.deps.blobs.getVerified(d);
    if (!buf) return undefined;
    this.memory.set(d.value, buf);
    this.deps.index.touch(d.value, buf.length);
    return buf;
  }

  /**
   * By digest, not linked to this repository: only the upstream can say this repository has it.
   * When it cannot answer, this is a miss like any other; bytes cached for another repository are
   * never served here (that would carry content across repositories the access rules separate).
   */
  private async fetchByDigest(route: RegistryRoute, repo: RepoKey, d: Digest): Promise<ManifestResponse> {
    return this.fetch(route, repo, d.value, d);
  }

  private async refreshTag(route: RegistryRoute, repo: RepoKey, tag: string, entry: TagEntry | undefined): Promise<ManifestResponse> {
    try {
      if (entry) {
        const same = await this.revalidate(route, repo, tag, entry);
        if (same) return same;
      }
      return await this.fetch(route, repo, tag, undefined, tag);
    } catch (e) {
      if (!entry || !upstreamsFailed(e)) throw e;
      const age = this.now() - entry.checkedAt;
      const bytes = age <= route.maxStale ? await this.bytes(parseDigest(entry.digest)) : undefined;
      if (!bytes) throw e;
      this.deps.log.warn({ registry: repo.registry, repository: repo.name, tag, digest: entry.digest, ageMs: age }, 'every upstream failed; serving the last known tag mapping (stale)');
      return { bytes, mediaType: entry.mediaType, digest: entry.digest, result: 'stale' };
    }
  }

  /** HEAD upstream: if the tag still points at the cached digest, refresh its TTL and serve the cache. */
  private async revalidate(route: RegistryRoute, repo: RepoKey, tag: string, entry: TagEntry): Promise<ManifestResponse | undefined> {
    const now = await headManifest(route.upstreams, repo.name, tag);
    if (now.digest !== entry.digest) return undefined;
    const bytes = await this.bytes(parseDigest(entry.digest));
    if (!bytes) return undefined;
    await this.deps.meta.putTag(repo, tag, { ...entry, checkedAt: this.now() });
    return { bytes, mediaType: entry.mediaType, digest: entry.digest, result: 'revalidated', upstream: now.upstream };
  }

  private async fetch(route: RegistryRoute, repo: RepoKey, ref: string, want?: Digest, tag?: string): Promise<ManifestResponse> {
    const m = await getManifest(route.upstreams, repo.name, ref, want);
    try {
      await this.store(repo, m.digest, m.bytes, m.mediaType, tag, m.info);
    } catch (e) {
      if (e instanceof RegistryError) throw e;
      storageFailed(e as Error);
      this.deps.log.error({ registry: repo.registry, repository: repo.name, digest: m.digest.value, err: (e as Error).message }, 'manifest could not be written to storage');
      throw storageError(e as Error);
    }
    return { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest.value, result: 'miss', upstream: m.upstream };
  }

  private async store(repo: RepoKey, d: Digest, bytes: Buffer, mediaType: string, tag: string | undefined, info: ReturnType<typeof parseManifest>): Promise<void> {
    const { blobs, meta, index } = this.deps;
    this.deps.sizes?.record(repo.registry, [info.config, ...info.layers]);
    if (!(await blobs.stat(d))) { await blobs.putVerified(d, bytes); index.add(d.value, bytes.length); }
    this.memory.set(d.value, bytes);
    await meta.putManifestLink(repo, d, { mediaType, size: bytes.length });
    if (tag) await meta.putTag(repo, tag, { digest: d.value, mediaType, size: bytes.length, checkedAt: this.now() });
    if (info.subject) {
      const subject = parseDigest(info.subject.digest);
      await meta.addReferrer(repo, subject, d, referrerDescriptor({ ...info, mediaType }, d.value, bytes.length));
    }
  }
}
