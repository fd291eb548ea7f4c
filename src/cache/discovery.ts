import { RegistryError, isRegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MT } from '../oci/mediatypes.js';
import { HOSTED_REGISTRY, type RepoKey } from '../oci/repo.js';
import { header, readCappedBytes } from '../client/upstream-client.js';
import { upstreamError } from '../upstream/registry-upstreams.js';
import { routeFor, type CacheDeps, type CacheResult } from './context.js';
import { SingleFlight } from './single-flight.js';

const MAX_LIST_BYTES = 8 * 1024 * 1024;
const MAX_TAG_PAGES = 50;

/**
 * Content discovery for proxied repositories: tag lists come from the upstream (the only complete
 * answer), falling back to the tags we have cached when no upstream answers; referrers come from
 * the upstream's referrers API, falling back to the referrers we have cached.
 */
export class DiscoveryService {
  private readonly tagFlights = new SingleFlight<{ tags: string[]; result: CacheResult }>();
  private readonly tagLists = new Map<string, { tags: string[]; at: number }>();
  private readonly now: () => number;

  constructor(private readonly deps: CacheDeps) { this.now = deps.now ?? Date.now; }

  async tags(repo: RepoKey): Promise<{ tags: string[]; result: CacheResult }> {
    const route = routeFor(this.deps.routes, repo);
    const key = `${repo.registry}/${repo.name}`;
    const cached = this.tagLists.get(key);
    if (cached && this.now() - cached.at < route.tagTtl) return { tags: cached.tags, result: 'hit' };
    return this.tagFlights.run(key, async () => {
      try {
        const tags = await this.fetchTags(repo);
        this.tagLists.set(key, { tags, at: this.now() });
        return { tags, result: 'miss' };
      } catch (e) {
        if (!isRegistryError(e, 'UPSTREAM_UNAVAILABLE')) throw e;
        const local = await this.deps.meta.listTags(repo);
        if (local.length === 0) throw e;
        this.deps.log.warn({ registry: repo.registry, repository: repo.name }, 'upstream unavailable; listing cached tags only');
        return { tags: local, result: 'stale' };
      }
    });
  }

  /** Reads every page of the upstream's tag list (following Link), so we can paginate ourselves. */
  private async fetchTags(repo: RepoKey): Promise<string[]> {
    const route = routeFor(this.deps.routes, repo);
    const all = new Set<string>();
    let query: string | undefined;
    for (let page = 0; page < MAX_TAG_PAGES; page++) {
      const res = await route.upstreams.send({ method: 'GET', name: repo.name, path: 'tags/list', query });
      // The tag list's 404 is about the repository ("Listing Tags": NAME_UNKNOWN), not a manifest.
      if (res.status === 404) { await res.body.dump?.(); throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo.name }); }
      if (res.status !== 200) { await res.body.dump?.(); throw upstreamError(res, 'manifest', {}); }
      const doc = JSON.parse((await readCappedBytes(res.body, MAX_LIST_BYTES)).toString('utf8')) as { tags?: string[] | null };
      for (const t of doc.tags ?? []) all.add(t);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res.headers, 'link') ?? '');
      if (!next) break;
      query = new URL(next[1]!, 'http://x').search;
    }
    return [...all].sort();
  }

  async referrers(repo: RepoKey, subject: Digest, artifactType: string | undefined): Promise<{ manifests: Descriptor[]; filtered: boolean; result: CacheResult }> {
    const route = routeFor(this.deps.routes, repo);
    try {
      const res = await route.upstreams.send({
        method: 'GET', name: repo.name, path: `referrers/${subject.value}`,
        query: artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : undefined,
        headers: { accept: MT.ociIndex },
      });
      if (res.status === 200) {
        const doc = JSON.parse((await readCappedBytes(res.body, MAX_LIST_BYTES)).toString('utf8')) as { manifests?: Descriptor[] };
        const manifests = doc.manifests ?? [];
        const upstreamFiltered = (header(res.headers, 'oci-filters-applied') ?? '').includes('artifactType');
        return this.filter(manifests, artifactType, upstreamFiltered, 'miss');
      }
      await res.body.dump?.();
      // 404: the upstream has no referrers API. Clients keep referrers under the fallback tag then,
      // but a client told that our API exists never reads that tag itself: we read it for them.
      const tagged = await this.fallbackTag(route, repo, subject);
      const local = await this.deps.meta.listReferrers(repo, subject);
      const known = new Set(tagged.map((d) => d.digest));
      return this.filter([...tagged, ...local.filter((d) => !known.has(d.digest))], artifactType, false, 'miss');
    } catch (e) {
      if (!isRegistryError(e, 'UPSTREAM_UNAVAILABLE')) throw e;
    }
    const local = await this.deps.meta.listReferrers(repo, subject);
    return this.filter(local, artifactType, false, 'stale');
  }

  /** The upstream's "Referrers Tag Schema" index for a subject (`sha256-<hex>`); [] when there is none. */
  private async fallbackTag(route: ReturnType<typeof routeFor>, repo: RepoKey, subject: Digest): Promise<Descriptor[]> {
    const tag = `${subject.algorithm.slice(0, 32)}-${subject.encoded.slice(0, 64)}`;
    const res = await route.upstreams.send({ method: 'GET', name: repo.name, path: `manifests/${tag}`, headers: { accept: MT.ociIndex } }, { resolvesTag: true });
    if (res.status === 404) { await res.body.dump?.(); return []; }
    if (res.status !== 200) { await res.body.dump?.(); throw upstreamError(res, 'manifest', { tag }); }
    try {
      const doc = JSON.parse((await readCappedBytes(res.body, MAX_LIST_BYTES)).toString('utf8')) as { manifests?: unknown };
      // Only well-formed descriptors: the index is whatever clients wrote there.
      return Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]).filter((d) => d && typeof d.digest === 'string' && typeof d.mediaType === 'string') : [];
    } catch {
      return [];
    }
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

/** Applies `n`/`last` pagination to a sorted list (spec "Listing Tags"); validates n. */
export function paginate(items: string[], n: string | undefined, last: string | undefined): { page: string[]; next?: string } {
  let list = last !== undefined ? items.filter((t) => t > last) : items;
  if (n === undefined) return { page: list };
  if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: n.slice(0, 20) });
  const count = Number(n);
  if (count === 0) return { page: [] };
  const page = list.slice(0, count);
  list = list.slice(count);
  return list.length > 0 ? { page, next: page[page.length - 1] } : { page };
}
