import type { Redis } from 'ioredis';
import type { Digest } from '../oci/digest.js';
import type { CatalogEntry, CatalogIndex } from '../oci/registry.js';
import { displayName, type RepoKey } from '../oci/repo.js';
import type { IndexCompleteness } from '../store/indexed-metadata.js';
import type { MutableMetadataStore, TagEntry, ManifestLink } from '../store/metadata.js';

const SEP = '\0';

/**
 * The fleet's catalog: one sorted set whose scores are all 0, so Redis orders the members
 * `<display>\0<registry>\0<name>` bytewise and ZRANGEBYLEX pages it in O(log n + page), the
 * (display, registry, name) order of the SQLite index. Until the shared index is complete, or for
 * another default registry than the one the display names were written for, it does not answer
 * and the catalog falls back to walking the bucket.
 */
export class RedisCatalog implements CatalogIndex {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    /** The shared index's completeness marker, read with every page: a FLUSHALL is seen at once, not at the next check. */
    private readonly marker: string,
    private readonly state: IndexCompleteness,
    private readonly defaultRegistry: string,
  ) {}

  member(r: RepoKey): string { return [displayName(r, this.defaultRegistry), r.registry, r.name].join(SEP); }

  async register(r: RepoKey): Promise<void> { await this.redis.zadd(this.key, 0, this.member(r)); }
  async unregister(r: RepoKey): Promise<void> { await this.redis.zrem(this.key, this.member(r)); }

  async page(after: string | CatalogEntry | undefined, limit: number, defaultRegistry: string): Promise<CatalogEntry[] | undefined> {
    if (!this.state.complete() || defaultRegistry !== this.defaultRegistry) return undefined;
    // After a display name: every member of a greater display (whose bytes after the name are above \0); after an entry: strictly after it.
    const min = after === undefined ? '-' : typeof after === 'string' ? `[${after}\x01` : `(${[after.display, after.registry, after.name].join(SEP)}`;
    return this.read((p) => p.zrangebylex(this.key, min, '+', 'LIMIT', 0, limit));
  }

  /** The marker and the members in one round trip; undefined when the marker is gone or Redis is unreachable (the caller walks the store). */
  private async read(query: (p: ReturnType<Redis['pipeline']>) => unknown): Promise<CatalogEntry[] | undefined> {
    const p = this.redis.pipeline().exists(this.marker);
    query(p);
    try {
      const [[e1, present], [e2, members]] = (await p.exec()) as [[Error | null, unknown], [Error | null, unknown]];
      if (e1 || e2 || present !== 1) return undefined;
      return (members as string[]).map(parse);
    } catch {
      return undefined;
    }
  }

  /** Every repository, or undefined while the index cannot answer. */
  async all(): Promise<RepoKey[] | undefined> {
    if (!this.state.complete()) return undefined;
    return (await this.read((p) => p.zrange(this.key, 0, -1)))?.map(({ registry, name }) => ({ registry, name }));
  }
}

function parse(member: string): CatalogEntry {
  const [display, registry, name] = member.split(SEP) as [string, string, string];
  return { display, registry, name };
}

/**
 * The shared store's metadata with the catalog kept in step: a repository is registered when a
 * tag or manifest link is written (after the store has it, so the catalog never lists what the
 * store lacks), and leaves when its last one is deleted. Tag lists stay on the store: a LIST of one
 * repository's `_tags/` is O(its tags), always agrees with the source of truth, and costs Redis no
 * memory per tag nor a second thing to rebuild after a flush. A catalog write that fails is left to
 * the leader's next rebuild (the store has the repository).
 */
export function withRedisCatalog(inner: MutableMetadataStore, catalog: RedisCatalog): MutableMetadataStore {
  const register = (r: RepoKey) => catalog.register(r).catch(() => {});
  const dropIfEmpty = async (r: RepoKey) => {
    if ((await inner.listTags(r)).length === 0 && (await inner.listManifestLinks(r)).length === 0) await catalog.unregister(r).catch(() => {});
  };
  return Object.assign(Object.create(inner) as MutableMetadataStore, {
    async putTag(r: RepoKey, tag: string, e: TagEntry): Promise<void> { await inner.putTag(r, tag, e); await register(r); },
    async putManifestLink(r: RepoKey, d: Digest, l: ManifestLink): Promise<void> { await inner.putManifestLink(r, d, l); await register(r); },
    async deleteTag(r: RepoKey, tag: string): Promise<boolean> { const had = await inner.deleteTag(r, tag); await dropIfEmpty(r); return had; },
    async deleteManifestLink(r: RepoKey, d: Digest): Promise<boolean> { const had = await inner.deleteManifestLink(r, d); await dropIfEmpty(r); return had; },
    async listRepositories(): Promise<RepoKey[]> { return (await catalog.all()) ?? inner.listRepositories(); },
  });
}
