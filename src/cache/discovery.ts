import { paginate, validN } from '../oci/paging.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { HOSTED_REGISTRY, type RepoKey } from '../oci/repo.js';
import { upstreamsFailed } from '../upstream/registry-upstreams.js';
import { listReferrers, listTags } from '../upstream/verbs.js';
import { routeFor, type CacheDeps, type CacheResult } from './context.js';
import { SingleFlight } from './single-flight.js';

/** Whole lists kept for their TTL: this many repositories, lists of at most this many tags. */
const CACHED_LISTS = 256;
const CACHED_LIST_MAX = 10_000;

export type { TagPage } from '../oci/registry.js';
import type { TagPage } from '../oci/registry.js';

/**
 * Content discovery for proxied repositories: tag lists come from the upstream (the only complete
 * answer), falling back to the tags we have cached when no upstream answers; referrers come from
 * the upstream's referrers API, falling back to the referrers we have cached. Memory is bounded:
 * a client's page (`n`, `last`) is asked of the upstream as such, a whole list is gathered only
 * up to MAX_TAGS / MAX_TAG_BYTES (then the answer carries a Link to the rest), and only small
 * lists are kept, for a bounded number of repositories.
 */
export class DiscoveryService {
  private readonly tagFlights = new SingleFlight<TagPage>();
  private readonly tagLists = new Map<string, { tags: string[]; at: number }>();
  private readonly now: () => number;

  constructor(private readonly deps: CacheDeps) { this.now = deps.now ?? Date.now; }

  async tags(repo: RepoKey, n?: string, last?: string): Promise<TagPage> {
    const route = routeFor(this.deps.routes, repo);
    if (n !== undefined) validN(n);
    const key = `${repo.registry}/${repo.name}`;
    const cached = this.tagLists.get(key);
    if (cached && this.now() - cached.at < route.tagTtl) return { ...pageOf(cached.tags, n, last), result: 'hit' };
    const flight = n === undefined && last === undefined ? key : `${key}?n=${n ?? ''}&last=${last ?? ''}`;
    return this.tagFlights.run(flight, async () => {
      try {
        const got = await listTags(route.upstreams, repo.name, n, last);
        if (!got.next && n === undefined && last === undefined && got.tags.length <= CACHED_LIST_MAX) this.remember(key, got.tags);
        return { ...got, result: 'miss' as const };
      } catch (e) {
        if (!upstreamsFailed(e)) throw e;
        const local = (await this.deps.meta.listTags(repo)).sort();
        if (local.length === 0) throw e;
        this.deps.log.warn({ registry: repo.registry, repository: repo.name }, 'upstream unavailable; listing cached tags only');
        return { ...pageOf(local, n, last), result: 'stale' as const };
      }
    });
  }

  private remember(key: string, tags: string[]): void {
    this.tagLists.delete(key);
    this.tagLists.set(key, { tags, at: this.now() });
    if (this.tagLists.size > CACHED_LISTS) this.tagLists.delete(this.tagLists.keys().next().value!);
  }

  async referrers(repo: RepoKey, subject: Digest, artifactType: string | undefined): Promise<{ manifests: Descriptor[]; filtered: boolean; result: CacheResult }> {
    const route = routeFor(this.deps.routes, repo);
    try {
      const up = await listReferrers(route.upstreams, repo.name, subject, artifactType);
      if (!up.tagSchema) return this.filter(up.manifests, artifactType, up.filtered, 'miss');
      // Under the tag schema, referrers pushed through us (cached) join what the tag lists.
      const local = await this.deps.meta.listReferrers(repo, subject);
      const known = new Set(up.manifests.map((d) => d.digest));
      return this.filter([...up.manifests, ...local.filter((d) => !known.has(d.digest))], artifactType, false, 'miss');
    } catch (e) {
      if (!upstreamsFailed(e)) throw e;
    }
    const local = await this.deps.meta.listReferrers(repo, subject);
    return this.filter(local, artifactType, false, 'stale');
  }

  private filter(manifests: Descriptor[], artifactType: string | undefined, already: boolean, result: CacheResult) {
    if (!artifactType) return { manifests, filtered: false, result };
    return { manifests: already ? manifests : manifests.filter((m) => m.artifactType === artifactType), filtered: true, result };
  }

  /** Pull-through repositories with cached content (hosted ones are listed by hosted). */
  async catalog(): Promise<RepoKey[]> {
    return (await this.deps.meta.listRepositories()).filter((r) => r.registry !== HOSTED_REGISTRY);
  }
}

function pageOf(items: string[], n: string | undefined, last: string | undefined): { tags: string[]; next?: string } {
  const p = paginate(items, n, last);
  return p.next !== undefined ? { tags: p.page, next: p.next } : { tags: p.page };
}
