import type { Redis } from 'ioredis';
import type { MetadataStore, TagEntry } from '../store/metadata.js';
import type { RepoKey } from '../oci/repo.js';
import { parseDigest } from '../oci/digest.js';

/**
 * Tag metadata shared by the fleet: a tag one instance revalidated is fresh for all of them, so the
 * fleet asks the upstream once per TTL, not once per instance. Redis holds the latest entry (with
 * an expiry); the shared store keeps the durable copy. Every Redis failure falls back to the store.
 */
export function withRedisTags(inner: MetadataStore, redis: Redis, ttlMs: number, prefix = 'regway:'): MetadataStore {
  const key = (r: RepoKey, tag: string) => `${prefix}tag:${r.registry}/${r.name}:${tag}`;
  const usable = () => redis.status === 'ready';
  const linked = async (r: RepoKey, digest: string): Promise<boolean> => {
    try { return (await inner.getManifestLink(r, parseDigest(digest))) !== undefined; } catch { return false; }
  };
  return Object.assign(Object.create(inner) as MetadataStore, {
    async getTag(r: RepoKey, tag: string): Promise<TagEntry | undefined> {
      if (usable()) {
        try {
          const v = await redis.get(key(r, tag));
          const e = v ? (JSON.parse(v) as TagEntry) : undefined;
          // Redis is shared and writable by whoever reaches it: an entry may only point at a
          // manifest this repository links in the store, never carry content across repositories.
          if (e && typeof e.digest === 'string' && (await linked(r, e.digest))) return e;
        } catch { /* fall back to the store */ }
      }
      return inner.getTag(r, tag);
    },
    async putTag(r: RepoKey, tag: string, e: TagEntry): Promise<void> {
      await inner.putTag(r, tag, e);
      if (usable()) await redis.set(key(r, tag), JSON.stringify(e), 'PX', Math.max(1000, ttlMs)).catch(() => {});
    },
  });
}
