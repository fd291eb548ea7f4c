import type { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import type { Digest } from './digest.js';
import type { Descriptor } from './manifest.js';
import type { Range } from './range.js';
import type { RepoKey } from './repo.js';

/**
 * The read side of a registry, as every handler sees it: the pull-through cache implements it
 * (cache/registry.ts), and so do hosted repositories (hosted/repositories.ts). Handlers depend on
 * this interface only; where the bytes come from is the implementation's business.
 */
export interface RepositoryReader {
  manifest(repo: RepoKey, ref: Reference): Promise<ManifestResult>;
  /**
   * `head`: no body; `range`: the Range header as sent (parsed against the blob's size); `client`:
   * the (authorized) caller's address, for readers that may answer with a redirect.
   */
  blob(repo: RepoKey, digest: Digest, opts: BlobOptions): Promise<BlobResult>;
  /** A page of tags (`n`, `last` as the client sent them); `next` when there are more. */
  tags(repo: RepoKey, n?: string, last?: string): Promise<TagPage>;
  referrers(repo: RepoKey, subject: Digest, artifactType?: string): Promise<ReferrersResult>;
  /** Repositories with content, for the catalog. */
  repositories(): Promise<RepoKey[]>;
}

/** A repository as the catalog lists it: `display` is the name clients see (bare on the default registry and for hosted ones). */
export interface CatalogEntry extends RepoKey { display: string }

/**
 * Every repository, pull-through and hosted, in catalog order, a page at a time: O(page) however
 * many are cached (one instance's SQLite index, store/index-db.ts, or the fleet's in Redis,
 * cluster/redis-catalog.ts, which answers asynchronously).
 */
export interface CatalogIndex {
  /** Entries after `after` (a display name, or the exact entry) in (display, registry, name) order; undefined while the index cannot answer (it is being built). */
  page(after: string | CatalogEntry | undefined, limit: number, defaultRegistry: string): CatalogEntry[] | undefined | Promise<CatalogEntry[] | undefined>;
}

/** How a request was served, for logs, audit and metrics. */
export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'stale' | 'revalidated';

export interface Reference { kind: 'tag' | 'digest'; value: string }

export interface ManifestResult {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  result: CacheResult;
  upstream?: string;
  /** The pull policy's decision, when a policy covers the repository (docs/policy.md). */
  policy?: PolicyDecision;
}

/** What a pull policy decided for one manifest: `would-deny` is an audit-mode policy's refusal, served anyway. */
export interface PolicyDecision { policy: string; decision: 'allow' | 'deny' | 'would-deny'; reason: string }

/** An open local file to send, bytes [start, end]; `release` runs once when sending ends. */
export interface FileBody { fh: FileHandle; start: number; end: number; release(): void }

export interface BlobOptions { head: boolean; range?: string; client?: string }

export interface BlobResult {
  size: number;
  /** Instead of a body: where the client fetches the committed blob itself (a 307), and what kind of place that is. */
  location?: string;
  redirect?: 'presigned' | 'cdn';
  range?: Range;
  /** Absent for HEAD. */
  body?: Readable;
  /** Instead of `body`: an open local file (stores that have one), sent without per-chunk garbage. */
  file?: FileBody;
  result: CacheResult;
  upstream?: string;
}

export interface TagPage { tags: string[]; result: CacheResult; next?: string }

export interface ReferrersResult { manifests: Descriptor[]; filtered: boolean; result: CacheResult }
