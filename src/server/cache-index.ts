import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';
import type { BlobStore } from '../store/blob-store.js';
import { IndexDb } from '../store/index-db.js';
import { IndexKeeper, type IndexProgress } from '../store/index-rebuild.js';
import { IndexedMetadataStore } from '../store/indexed-metadata.js';
import { DriverMetadataStore, type MutableMetadataStore } from '../store/metadata.js';
import type { CatalogIndex } from '../oci/registry.js';
import { SqliteBlobIndex, type BlobIndex } from '../cache/blob-index.js';

/** What /metrics, /-/ui and `regway index status` show about the index. */
export interface IndexStatus extends IndexProgress {
  location: string;
  blobs: number;
  bytes: number;
  /** Size of the index itself on disk. */
  fileBytes: number;
}

/**
 * The cache's index as the gateway uses it: one instance's SQLite index (openCacheIndex), or a
 * fleet's shared one in Redis (server/fleet.ts, on a shared bucket).
 */
export interface CacheIndex {
  blobs: BlobIndex;
  /** Repository metadata read (or written) through the index (the store's files stay the source of truth). */
  meta: MutableMetadataStore;
  /** The catalog by pages; undefined reads fall back to walking the store. */
  catalog: CatalogIndex;
  keeper: { readonly progress: IndexProgress; settled(): Promise<void>; rebuild(reason?: string): Promise<void> };
  status(): IndexStatus;
  close(): Promise<void>;
}

/** The single-instance index: SQLite beside the store. */
export interface SqliteCacheIndex extends CacheIndex {
  meta: IndexedMetadataStore;
  keeper: IndexKeeper;
  /** Waits for a build under way; throws when it failed (an offline tool must not report success by a partial index). */
  ready(): Promise<void>;
}

/** Where the index of this config's store lives: storage.index, else <storage.path>/_index/cache.db; in memory for the memory driver. */
export function indexLocation(storage: Config['storage']): string {
  if (storage.index) return resolve(storage.index);
  return storage.driver === 'memory' ? ':memory:' : join(resolve(storage.path), '_index', 'cache.db');
}

/**
 * Opens the cache index in O(1) (no walk of the store): a missing, foreign or interrupted index is
 * rebuilt in the background while the gateway serves (reads fall back to the store's files and
 * eviction waits until it is complete).
 */
export async function openCacheIndex(config: Config, driver: StorageDriver, blobs: Pick<BlobStore, 'delete'>, log: Logger, opts: { offline?: boolean } = {}): Promise<SqliteCacheIndex> {
  const location = indexLocation(config.storage);
  let db: IndexDb;
  try { db = new IndexDb(location); } catch (e) {
    throw new Error(`cannot open the cache index ${location}: ${(e as Error).message}; check the folder's permissions and free space, or set storage.index to a writable local path`);
  }
  db.setDefaultRegistry(config.defaultRegistry);
  const keeper = new IndexKeeper(db, driver, log);
  await keeper.open();
  // Offline (regway gc), eviction need not leave room for serving.
  const index = new SqliteBlobIndex(db, blobs, keeper, config.storage.maxSize, log, undefined, !opts.offline);
  const meta = new IndexedMetadataStore(new DriverMetadataStore(driver, { maxCached: 1000 }), db, keeper);
  return {
    blobs: index, meta, keeper, catalog: meta,
    status: () => ({ ...keeper.progress, location, ...db.totals(), fileBytes: db.fileBytes() }),
    ready: async () => {
      await keeper.settled();
      if (!keeper.complete()) throw new Error(`the cache index ${location} could not be built: ${keeper.progress.error ?? 'unknown error'}; check the storage, then run regway index rebuild`);
    },
    close: async () => { await index.close(); await keeper.close(); db.close(); },
  };
}
