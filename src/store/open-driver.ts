import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from './driver.js';
import { FsDriver } from './fs-driver.js';
import { MemoryDriver } from './memory-driver.js';

/** A driver ready for use, with its resources to release at shutdown. */
export interface OpenedStorage {
  driver: StorageDriver;
  /** Human-readable location for logs: a path or s3://bucket/prefix. */
  location: string;
  close(): void;
}

/**
 * Builds and initialises the configured storage driver: the one place that turns
 * `storage.driver` into an implementation. Secrets are resolved here, at the edge.
 */
export async function openStorage(storage: Config['storage'], log: Logger): Promise<OpenedStorage> {
  if (storage.driver === 's3' && storage.s3) {
    const c = storage.s3;
    const credentials = c.accessKeyId !== undefined && c.secretAccessKey !== undefined
      ? { accessKeyId: resolveSecret(c.accessKeyId), secretAccessKey: resolveSecret(c.secretAccessKey) }
      : undefined;
    // Loaded only when configured: the AWS SDK costs ~20 MB of memory at import.
    const { S3Driver } = await import('./s3-driver.js');
    const driver = new S3Driver({
      bucket: c.bucket, region: c.region, prefix: c.prefix, partSize: c.partSize, createBucket: c.createBucket,
      ...(c.endpoint !== undefined ? { endpoint: c.endpoint } : {}),
      ...(c.forcePathStyle !== undefined ? { forcePathStyle: c.forcePathStyle } : {}),
      ...(credentials ? { credentials } : {}),
    });
    try { await driver.init(); } catch (e) { driver.close(); throw e; }
    log.info({ storage: driver.location, endpoint: c.endpoint ?? `aws:${c.region}`, credentials: credentials ? 'config' : 'aws default chain' }, 'S3 storage ready');
    return { driver, location: driver.location, close: () => driver.close() };
  }
  if (storage.driver === 'memory') {
    const driver = new MemoryDriver();
    log.warn('storage.driver is memory: the cache lives in this process only and nothing survives a restart (tests and throw-away gateways)');
    return { driver, location: 'memory', close: () => {} };
  }
  const root = resolve(storage.path);
  const driver = new FsDriver(root);
  await driver.init();
  return { driver, location: root, close: () => {} };
}
