import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import { sameRepo, type RepoKey } from '../oci/repo.js';
import { NotFoundError } from '../store/driver.js';
import { blobSource, headBlob } from '../upstream/verbs.js';
import { storageError, storageFailed } from '../store/errors.js';
import { BlobFetch, StoreWriteError } from './blob-fetch.js';
import { parseRange, type Range } from '../oci/range.js';
import { routeFor, type CacheDeps, type CacheResult, type RegistryRoute } from './context.js';
import type { BlobOptions } from '../oci/registry.js';

export type { FileBody, BlobResult as BlobResponse } from '../oci/registry.js';
import type { BlobResult as BlobResponse } from '../oci/registry.js';

/**
 * Blobs, pull-through: served from the store when present; otherwise every client joins the one
 * upstream download of that digest and streams from it while it is written.
 */
export class BlobService {
  constructor(private readonly deps: CacheDeps) {}

  /** `confirmed`: this repository's link to the blob was just checked. */
  async get(repo: RepoKey, digest: Digest, opts: BlobOptions, confirmed = false): Promise<BlobResponse> {
    const local = await this.deps.blobs.stat(digest);
    const running = this.deps.inflight.get(digest.value);
    // This repository's own download, committed but not yet linked: it is the proof the link will record.
    const own = running?.repo !== undefined && sameRepo(running.repo, repo);
    if (local) {
      const recorded = confirmed || own ? undefined : await this.ensureLinked(repo, digest);
      // A stored blob of another size than the one recorded for it is damaged (a truncated file, a
      // short object in the bucket): never served; dropped and fetched again from the upstream.
      if (recorded !== undefined && recorded !== local.size) {
        await this.dropDamaged(repo, digest, local.size, recorded);
        return this.get(repo, digest, opts, true);
      }
      return (await this.redirected(repo, digest, local.size, opts)) ?? this.fromStore(digest, local.size, opts, 'hit');
    }
    // A download started for another repository is joined only once this one is confirmed to hold the blob.
    if (running && !confirmed && !own) {
      await this.ensureLinked(repo, digest);
      return this.get(repo, digest, opts, true);
    }
    // Not in the store: an index row for it is stale (a crash between the delete and the row's), dropped on this first read.
    if (!running) this.deps.index.forget(digest.value);
    if (opts.head && !running) return this.headUpstream(repo, digest, opts.range);
    return this.fromFetch(repo, digest, opts);
  }

  /**
   * A blob cached (or being fetched) for one repository is served to another only once the
   * upstream confirms that repository has it (one HEAD, then remembered as a link). When the
   * upstream cannot answer, the answer is the upstream's error, exactly as for a blob that is not
   * cached: the cache must never carry content across a repository boundary, and must not tell
   * a caller which digests it holds for others.
   */
  private async ensureLinked(repo: RepoKey, digest: Digest): Promise<number | undefined> {
    const link = await this.deps.meta.getBlobLink(repo, digest);
    if (link) return link.size;
    const { size } = await headBlob(routeFor(this.deps.routes, repo).upstreams, repo.name, digest);
    await this.deps.meta.putBlobLink(repo, digest, size);
    return size;
  }

  /** A damaged stored blob: logged, counted, removed (readers that have it open finish), refetched by the caller; a failed removal throws. */
  private async dropDamaged(repo: RepoKey, digest: Digest, size: number, recorded: number): Promise<void> {
    this.deps.log.error({ registry: repo.registry, repository: repo.name, digest: digest.value, size, recorded }, 'cached blob is damaged (its size is not the recorded one): removed, fetching it again');
    storageFailed(Object.assign(new Error('damaged blob'), { code: 'EDAMAGED' }));
    // A damaged blob that cannot be removed must not be served either: the caller fetches again only
    // once it is gone, so this is the storage's error, never the damaged bytes.
    try { await this.deps.blobs.delete(digest); } catch (e) { throw storageError(e as Error); }
    this.deps.index.forget(digest.value);
  }

  /**
   * A committed blob's GET, answered with the URL of the object itself when the registry redirects
   * this client and repository (docs/redirects.md). Only committed blobs: a download under way has
   * no complete object yet, so it is streamed as without redirects. The caller was authorized for
   * this repository before the reader was asked (gateway/guard.ts), and the link check above ran.
   */
  private async redirected(repo: RepoKey, digest: Digest, size: number, opts: BlobOptions): Promise<BlobResponse | undefined> {
    const redirect = opts.head || opts.client === undefined ? undefined : this.deps.routes.get(repo.registry)?.redirect;
    if (!redirect || !redirect.applies(opts.client!, repo.name)) return undefined;
    const range = parseRange(opts.range, size);
    this.deps.index.touch(digest.value, size);
    return { size, range, result: 'hit', location: await redirect.location(digest), redirect: redirect.target };
  }

  /** HEAD of a blob neither cached nor being fetched: the upstream's HEAD, never a download. */
  private async headUpstream(repo: RepoKey, digest: Digest, rangeHeader: string | undefined): Promise<BlobResponse> {
    const { size, upstream } = await headBlob(routeFor(this.deps.routes, repo).upstreams, repo.name, digest);
    if (size === undefined) throw new RegistryError('UPSTREAM_UNAVAILABLE', `upstream ${upstream} answered a blob HEAD without a valid Content-Length`);
    return { size, range: parseRange(rangeHeader, size), result: 'miss', upstream };
  }

  private async fromStore(digest: Digest, size: number, opts: { head: boolean; range?: string }, result: CacheResult): Promise<BlobResponse> {
    const range = parseRange(opts.range, size);
    this.deps.index.touch(digest.value, size);
    if (opts.head) return { size, range, result };
    const release = this.deps.index.pin(digest.value);
    const local = await this.deps.blobs.openFile(digest);
    if (local) {
      const end = range?.end ?? local.size - 1;
      return { size, range, file: { fh: local.fh, start: range?.start ?? 0, end, release }, result };
    }
    let body: Readable;
    try { body = await this.deps.blobs.open(digest, range); } catch (e) {
      release();
      if (e instanceof NotFoundError) throw new RegistryError('BLOB_UNKNOWN'); // evicted between stat and open
      throw e;
    }
    body.once('close', release);
    return { size, range, body, result };
  }

  private async fromFetch(repo: RepoKey, digest: Digest, opts: { head: boolean; range?: string }): Promise<BlobResponse> {
    let fetch = this.deps.inflight.get(digest.value);
    const result: CacheResult = fetch ? 'coalesced' : 'miss';
    if (!fetch) fetch = this.start(repo, digest);
    const release = fetch.hold();
    try {
      await fetch.ready;
      await fetch.whenStable();
      if (fetch.error) throw fetch.error instanceof StoreWriteError ? storageError(fetch.error.cause) : fetch.error;
      if (fetch.size === undefined) throw new RegistryError('UPSTREAM_UNAVAILABLE', 'upstream sent no Content-Length for a blob');
      const range = parseRange(opts.range, fetch.size);
      if (opts.head) return { size: fetch.size, range, result };
      const body = fetch.reader(range?.start ?? 0, range?.end);
      // Finished and committed while we waited: the store has it now.
      if (!body) return this.fromStore(digest, fetch.size, opts, result);
      return { size: fetch.size, range, body, result };
    } finally {
      release();
    }
  }

  /** Starts the one download of a digest. Registered before any await, so concurrent misses join it. */
  private start(repo: RepoKey, digest: Digest): BlobFetch {
    const { blobs, inflight, index, log } = this.deps;
    const route = routeFor(this.deps.routes, repo);
    const expected = this.deps.sizes?.get(repo.registry, digest.value);
    const fetch = new BlobFetch(digest, undefined, expected);
    fetch.repo = repo;
    const upstream = blobSource(route.upstreams, repo.name, digest, { expected, log });
    let release: (() => Promise<void>) | undefined;
    const source = this.deps.fleet
      ? this.deps.fleet.wrap(digest.value, upstream, (r) => { release = r; }, async () => { await this.ensureLinked(repo, digest); })
      : upstream;
    const settled = fetch.run(() => blobs.writer(digest), source).then(async () => {
      index.add(digest.value, fetch.size!);
      await this.deps.meta.putBlobLink(repo, digest, fetch.size);
      await index.evictIfNeeded();
    }).finally(() => release?.());
    settled.catch((e: Error) => {
      if (e instanceof StoreWriteError) storageFailed(e.cause);
      if (e instanceof StoreWriteError) log.error({ registry: repo.registry, repository: repo.name, digest: digest.value, err: e.cause.message, code: (e.cause as { code?: string }).code }, 'blob could not be written to storage; nothing was cached');
      else log.warn({ registry: repo.registry, repository: repo.name, digest: digest.value, err: e.message }, 'blob fetch failed; nothing was cached');
    });
    inflight.add(digest.value, fetch, settled);
    return fetch;
  }
}
