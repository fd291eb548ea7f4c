import { RegistryError } from '../oci/errors.js';
import { paginate, validN } from '../oci/paging.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MT } from '../oci/mediatypes.js';
import { HOSTED_REGISTRY, type RepoKey } from '../oci/repo.js';
import { header, readCappedBytes } from '../client/upstream-client.js';
import { BadUpstreamContent, upstreamError, upstreamsFailed } from '../upstream/registry-upstreams.js';
import { routeFor, type CacheDeps, type CacheResult } from './context.js';
import { SingleFlight } from './single-flight.js';

const MAX_LIST_BYTES = 8 * 1024 * 1024;
/** A whole tag list (no `n`) is gathered up to this many tags or bytes; past that, the client pages. */
const MAX_TAGS = 50_000;
const MAX_TAG_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 50;
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
        const got = n === undefined && last === undefined ? await this.wholeList(repo) : await this.onePage(repo, n, last);
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

  /** The client's page, asked of the upstream as such (and cut again here, for upstreams that ignore n). */
  private async onePage(repo: RepoKey, n: string | undefined, last: string | undefined): Promise<{ tags: string[]; next?: string }> {
    const q = new URLSearchParams();
    if (n !== undefined) q.set('n', n);
    if (last !== undefined) q.set('last', last);
    const page = await this.tagPage(repo, `?${q}`);
    const mine = paginate(page.tags.sort(), n, last);
    const next = mine.next ?? (page.more && mine.page.length > 0 ? mine.page[mine.page.length - 1] : undefined);
    return { tags: mine.page, ...(next !== undefined ? { next } : {}) };
  }

  /** Every page of the upstream's tag list (following Link), up to the caps; past them, a Link to the rest. */
  private async wholeList(repo: RepoKey): Promise<{ tags: string[]; next?: string }> {
    const all = new Set<string>();
    let query: string | undefined;
    let bytes = 0;
    for (let p = 0; p < MAX_TAG_PAGES; p++) {
      const page = await this.tagPage(repo, query);
      bytes += page.bytes;
      for (const t of page.tags) all.add(t);
      if (!page.more) return { tags: [...all].sort() };
      if (all.size >= MAX_TAGS || bytes >= MAX_TAG_BYTES) break;
      query = page.more;
    }
    // Too long to gather in one answer: what we have, and where the client continues.
    const sorted = [...all].sort().slice(0, MAX_TAGS);
    return { tags: sorted, next: sorted[sorted.length - 1] };
  }

  /** One page of the upstream's tag list; `more` is the query of the next page (the upstream's Link). */
  private async tagPage(repo: RepoKey, query: string | undefined): Promise<{ tags: string[]; more?: string; bytes: number }> {
    const route = routeFor(this.deps.routes, repo);
    return route.upstreams.fetch({ method: 'GET', name: repo.name, path: 'tags/list', query }, {}, async (res) => {
      // The tag list's 404 is about the repository ("Listing Tags": NAME_UNKNOWN), not a manifest.
      if (res.status === 404) throw new RegistryError('NAME_UNKNOWN', undefined, { name: repo.name });
      if (res.status !== 200) throw upstreamError(res, 'manifest', {});
      const raw = await readCappedBytes(res.body, MAX_LIST_BYTES + 1);
      if (raw.length > MAX_LIST_BYTES) throw new BadUpstreamContent(`upstream ${res.upstream.id} sent a tag list page over ${MAX_LIST_BYTES} bytes`, 'too_large');
      let doc: { tags?: unknown };
      try { doc = JSON.parse(raw.toString('utf8')) as { tags?: unknown }; } catch {
        throw new BadUpstreamContent(`upstream ${res.upstream.id} sent a tag list that is not JSON`, 'not_a_tag_list');
      }
      const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string' && t.length <= 128) : [];
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res.headers, 'link') ?? '');
      return { tags, bytes: raw.length, ...(next ? { more: new URL(next[1]!, 'http://x').search } : {}) };
    });
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
      if (!upstreamsFailed(e)) throw e;
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

function pageOf(items: string[], n: string | undefined, last: string | undefined): { tags: string[]; next?: string } {
  const p = paginate(items, n, last);
  return p.next !== undefined ? { tags: p.page, next: p.next } : { tags: p.page };
}
