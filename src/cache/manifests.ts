import { RegistryError, isRegistryError } from '../oci/errors.js';
import { parseDigest, digestOf, type Digest } from '../oci/digest.js';
import { MANIFEST_TYPES, bareType } from '../oci/mediatypes.js';
import { parseManifest, referrerDescriptor } from '../oci/manifest.js';
import { blobKey, type RepoKey } from '../store/paths.js';
import type { TagEntry } from '../store/metadata.js';
import { header, readCappedBytes } from '../client/upstream-client.js';
import { upstreamError } from '../upstream/registry-upstreams.js';
import { routeFor, type CacheDeps, type CacheResult, type RegistryRoute } from './context.js';
import { ManifestMemory } from './manifest-memory.js';
import { SingleFlight } from './single-flight.js';

/** Manifests larger than this are refused: containerd and containers/image refuse them too. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const UPSTREAM_ACCEPT = MANIFEST_TYPES.join(', ');

export interface ManifestResponse {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  result: CacheResult;
  upstream?: string;
}

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
      if (missingUntil > this.now()) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown (upstream said so recently)', { tag: ref.value });
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
    if (mem) return mem;
    const buf = await this.deps.driver.get(blobKey(d));
    // Verify what comes off disk: a corrupted file must never be served as this digest.
    if (!buf || digestOf(buf, d.algorithm) !== d.value) return undefined;
    this.memory.set(d.value, buf);
    this.deps.index.touch(blobKey(d));
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
      if (!entry || !isRegistryError(e, 'UPSTREAM_UNAVAILABLE')) throw e;
      const age = this.now() - entry.checkedAt;
      const bytes = age <= route.maxStale ? await this.bytes(parseDigest(entry.digest)) : undefined;
      if (!bytes) throw e;
      this.deps.log.warn({ registry: repo.registry, repository: repo.name, tag, digest: entry.digest, ageMs: age }, 'every upstream failed; serving the last known tag mapping (stale)');
      return { bytes, mediaType: entry.mediaType, digest: entry.digest, result: 'stale' };
    }
  }

  /** HEAD upstream: if the tag still points at the cached digest, refresh its TTL and serve the cache. */
  private async revalidate(route: RegistryRoute, repo: RepoKey, tag: string, entry: TagEntry): Promise<ManifestResponse | undefined> {
    const res = await route.upstreams.send({ method: 'HEAD', name: repo.name, path: `manifests/${tag}`, headers: { accept: UPSTREAM_ACCEPT } }, { resolvesTag: true });
    await res.body.dump?.();
    if (res.status !== 200) throw upstreamError(res, 'manifest', { tag });
    if (header(res.headers, 'docker-content-digest') !== entry.digest) return undefined;
    const bytes = await this.bytes(parseDigest(entry.digest));
    if (!bytes) return undefined;
    await this.deps.meta.putTag(repo, tag, { ...entry, checkedAt: this.now() });
    return { bytes, mediaType: entry.mediaType, digest: entry.digest, result: 'revalidated', upstream: res.upstream.id };
  }

  private async fetch(route: RegistryRoute, repo: RepoKey, ref: string, want?: Digest, tag?: string): Promise<ManifestResponse> {
    const res = await route.upstreams.send({ method: 'GET', name: repo.name, path: `manifests/${ref}`, headers: { accept: UPSTREAM_ACCEPT } }, { resolvesTag: tag !== undefined });
    if (res.status !== 200) { await res.body.dump?.(); throw upstreamError(res, 'manifest', { reference: ref }); }
    const declared = Number(header(res.headers, 'content-length') ?? 0);
    if (declared > MAX_MANIFEST_BYTES) { await res.body.dump?.(); throw new RegistryError('MANIFEST_INVALID', `upstream manifest is ${declared} bytes, over the ${MAX_MANIFEST_BYTES} limit`); }
    const raw = await readCappedBytes(res.body, MAX_MANIFEST_BYTES + 1);
    if (raw.length > MAX_MANIFEST_BYTES) throw new RegistryError('MANIFEST_INVALID', `upstream manifest is over the ${MAX_MANIFEST_BYTES} byte limit`);
    const digest = this.verify(raw, want, header(res.headers, 'docker-content-digest'), res.upstream.id);
    const info = parseManifest(raw, header(res.headers, 'content-type'));
    const mediaType = bareType(header(res.headers, 'content-type')) || info.mediaType;
    await this.store(repo, digest, raw, mediaType, tag, info);
    return { bytes: raw, mediaType, digest: digest.value, result: 'miss', upstream: res.upstream.id };
  }

  /** The digest the bytes really have; refuses bytes that do not match what was asked or announced. */
  private verify(bytes: Buffer, want: Digest | undefined, announced: string | undefined, upstream: string): Digest {
    const alg = want?.algorithm ?? (announced?.startsWith('sha512:') ? 'sha512' : 'sha256');
    const actual = parseDigest(digestOf(bytes, alg));
    const expected = want?.value ?? announced;
    if (expected && expected !== actual.value) {
      throw new RegistryError('UPSTREAM_UNAVAILABLE', `upstream ${upstream} sent a manifest whose digest ${actual.value} does not match ${expected}; not cached`);
    }
    return actual;
  }

  private async store(repo: RepoKey, d: Digest, bytes: Buffer, mediaType: string, tag: string | undefined, info: ReturnType<typeof parseManifest>): Promise<void> {
    const { driver, meta, index } = this.deps;
    const key = blobKey(d);
    if (!(await driver.stat(key))) { await driver.put(key, bytes); index.add(key, bytes.length); }
    this.memory.set(d.value, bytes);
    await meta.putManifestLink(repo, d, { mediaType, size: bytes.length });
    if (tag) await meta.putTag(repo, tag, { digest: d.value, mediaType, size: bytes.length, checkedAt: this.now() });
    if (info.subject) {
      const subject = parseDigest(info.subject.digest);
      await meta.addReferrer(repo, subject, d, referrerDescriptor({ ...info, mediaType }, d.value, bytes.length));
    }
  }
}
