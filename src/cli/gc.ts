import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { parseSize } from '../config/units.js';
import { createLogger } from '../obs/logger.js';
import { openStorage } from '../store/open-driver.js';
import { BlobStore } from '../store/blob-store.js';
import { openCacheIndex } from '../server/cache-index.js';
import { refuseSharedIndex } from './index-cmd.js';

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('Evict least-recently-used blobs until the cache fits its size limit (by the cache index; run while the gateway is stopped)')
    .option('-c, --config <file>', 'YAML config file')
    .option('-s, --storage <dir>', 'cache storage folder')
    .option('--max-size <size>', 'size limit to enforce, e.g. 20GiB (default: storage.maxSize)')
    .addHelpText(
      'after',
      `
Examples:
  regway gc --storage /var/lib/regway --max-size 50GiB
  regway gc --config /etc/regway/regway.yaml

The index (storage.index, default <storage.path>/_index/cache.db) orders blobs by last use; when it
is missing or incomplete it is built from the store first (regway index status shows it).`,
    )
    .action(async (opts: { config?: string; storage?: string; maxSize?: string }) => {
      const config = loadConfig(opts.config, { storage: opts.storage });
      refuseSharedIndex(config, 'gc');
      const max = opts.maxSize ? parseSize(opts.maxSize) : config.storage.maxSize;
      if (max <= 0) throw new Error('no size limit: pass --max-size (e.g. 20GiB) or set storage.maxSize in the config');
      // Logs to stderr: stdout carries the summary line.
      const log = createLogger(config.log.level, process.stderr);
      // storage.driver decides: a folder, or an S3 bucket.
      const storage = await openStorage(config.storage, log);
      const index = await openCacheIndex({ ...config, storage: { ...config.storage, maxSize: max } }, storage.driver, new BlobStore(storage.driver, 'cache'), log, { offline: true });
      try {
        await index.ready();
        const before = index.blobs.size;
        const removed = await index.blobs.evictIfNeeded();
        process.stdout.write(`regway gc: ${removed} blobs removed, ${before} -> ${index.blobs.size} bytes (limit ${max})\n`);
      } finally {
        await index.close();
        storage.close();
      }
    });
}
