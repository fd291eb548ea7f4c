import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';
import type { BlobStore } from '../store/blob-store.js';
import { DriverMetadataStore } from '../store/metadata.js';
import type { CacheIndex } from './cache-index.js';

/**
 * The index of a fleet sharing one bucket, in the fleet's Redis: sizes, recency and totals
 * (RedisBlobIndex), the catalog (RedisCatalog, kept in step by the metadata writes) and the
 * completeness marker with the leader lease (SharedIndex). Opening it reads the marker and tries
 * the lease: no LIST of the bucket, whatever its size; a missing marker makes the leader rebuild
 * in the background.
 */
export async function openFleetIndex(config: Config, redis: Redis, prefix: string, instance: string, driver: StorageDriver, blobs: Pick<BlobStore, 'delete'>, log: Logger): Promise<CacheIndex> {
  // Loaded only by a fleet on a shared bucket, like ioredis.
  const [{ SharedIndex, indexKeys }, { RedisBlobIndex }, { RedisCatalog, withRedisCatalog }] = await Promise.all([
    import('../cluster/shared-index.js'), import('../cluster/redis-blob-index.js'), import('../cluster/redis-catalog.js'),
  ]);
  const keys = indexKeys(prefix);
  let catalog: InstanceType<typeof RedisCatalog> | undefined;
  const shared = new SharedIndex(redis, keys, instance, driver, (r) => catalog!.member(r), log);
  catalog = new RedisCatalog(redis, keys.catalog, keys.complete, shared, config.defaultRegistry);
  const index = new RedisBlobIndex(redis, keys, shared, blobs, config.storage.maxSize, log);
  await shared.start();
  await index.start();
  const location = `redis ${prefix}idx:*`;
  return {
    blobs: index,
    meta: withRedisCatalog(new DriverMetadataStore(driver), catalog),
    catalog,
    keeper: shared,
    status: () => ({ ...shared.progress, phase: shared.complete() ? shared.progress.phase : 'rebuilding', location, blobs: index.count, bytes: index.size, fileBytes: 0 }),
    close: async () => { await index.close(); await shared.close(); },
  };
}
