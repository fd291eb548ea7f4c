import type { Digest } from '../oci/digest.js';
import type { RepoKey } from '../oci/repo.js';
import { HOSTED_REGISTRY } from '../oci/repo.js';
import type { BlobOptions, BlobResult, ManifestResult, Reference, ReferrersResult, RepositoryReader, TagPage } from '../oci/registry.js';
import { BlobService } from './blobs.js';
import { ManifestService } from './manifests.js';
import { DiscoveryService } from './discovery.js';
import type { CacheDeps } from './context.js';

/**
 * The pull-through cache as a registry: manifests, blobs, tags and referrers of every configured
 * upstream registry, served from the store or fetched once and shared.
 */
export class PullThroughCache implements RepositoryReader {
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly discovery: DiscoveryService;

  constructor(deps: CacheDeps, memoryManifests: number) {
    this.blobs = new BlobService(deps);
    this.manifests = new ManifestService(deps, memoryManifests);
    this.discovery = new DiscoveryService(deps);
  }

  manifest(repo: RepoKey, ref: Reference): Promise<ManifestResult> { return this.manifests.get(repo, ref); }
  blob(repo: RepoKey, digest: Digest, opts: BlobOptions): Promise<BlobResult> { return this.blobs.get(repo, digest, opts); }
  tags(repo: RepoKey, n?: string, last?: string): Promise<TagPage> { return this.discovery.tags(repo, n, last); }
  referrers(repo: RepoKey, subject: Digest, artifactType?: string): Promise<ReferrersResult> { return this.discovery.referrers(repo, subject, artifactType); }

  async repositories(): Promise<RepoKey[]> {
    return (await this.discovery.catalog()).filter((r) => r.registry !== HOSTED_REGISTRY);
  }
}
