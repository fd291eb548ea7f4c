import type { BlobStore } from '../store/blob-store.js';
import type { MetadataStore } from '../store/metadata.js';
import type { RegistryUpstreams } from '../upstream/registry-upstreams.js';
import type { Logger } from '../obs/logger.js';
import type { BlobIndex } from './blob-index.js';
import type { InflightFetches } from './inflight.js';
import type { RepoKey } from '../oci/repo.js';
import { RegistryError } from '../oci/errors.js';
import type { OpenSource } from './blob-fetch.js';
import type { DescriptorSizes } from './descriptor-sizes.js';
import type { Redirector } from './redirect.js';

/**
 * The fleet's part in a blob download, injected by the composition root (the cache never imports
 * the fleet): wraps the upstream source so the download is claimed fleet-wide, streamed from the
 * instance fetching it, or taken over when that instance dies. `onOwner` receives the lease's
 * release when this instance owns the download; `confirm` proves this repository holds the blob
 * before bytes another instance fetched (for whichever repository) reach its clients.
 */
export interface FleetSource {
  wrap(digest: string, upstream: OpenSource, onOwner: (release: () => Promise<void>) => void, confirm: () => Promise<void>): OpenSource;
}

/** Per-registry settings the cache needs. */
export interface RegistryRoute {
  registry: string;
  upstreams: RegistryUpstreams;
  tagTtl: number;
  maxStale: number;
  /** How long the origin's 404 for a tag is remembered. */
  negativeTtl: number;
  /** Cached blobs answered with a 307 to the store or a CDN (docs/redirects.md); absent: always served. */
  redirect?: Redirector;
}

/** Resolves a registry name to its route; swapped atomically on reload. */
export interface RouteTable {
  get(registry: string): RegistryRoute | undefined;
}

export type { CacheResult } from '../oci/registry.js';

export interface CacheDeps {
  /** The cache's blobs (content-addressed, verified). */
  blobs: BlobStore;
  meta: MetadataStore;
  index: BlobIndex;
  inflight: InflightFetches;
  routes: RouteTable;
  log: Logger;
  now?: () => number;
  /** How the fleet takes part in downloads (several instances, Redis); absent for one instance. */
  fleet?: FleetSource;
  /** Blob sizes from the manifests served, to catch an upstream announcing a wrong length. */
  sizes?: DescriptorSizes;
}

export function routeFor(routes: RouteTable, repo: RepoKey): RegistryRoute {
  const r = routes.get(repo.registry);
  // Never an open proxy: only configured registries are reachable.
  if (!r) throw new RegistryError('NAME_UNKNOWN', `registry ${repo.registry} is not configured on this gateway`, { registry: repo.registry });
  return r;
}
