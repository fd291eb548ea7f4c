import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { fleetKeyPrefix } from '../server/fleet.js';
import { createLogger } from '../obs/logger.js';
import { openStorage } from '../store/open-driver.js';
import { BlobStore } from '../store/blob-store.js';
import { openCacheIndex, type IndexStatus } from '../server/cache-index.js';

interface Opts {
  config?: string;
  storage?: string;
  json?: boolean;
}

/** `regway index status|rebuild`: the cache index (SQLite) that start-up, the catalog and eviction read. */
export function registerIndex(program: Command): void {
  const cmd = program
    .command('index')
    .description('The cache index: where it lives, what it holds, rebuild it from the store')
    .addHelpText(
      'after',
      `
The index (storage.index, default <storage.path>/_index/cache.db; SQLite) holds blob sizes and
last use, repositories, tags and links. The store stays the source of truth: a missing, foreign or
interrupted index is rebuilt in the background by the gateway while it serves.

Examples:
  regway index status --storage /var/lib/regway
  regway index rebuild --config /etc/regway/regway.yaml   # stop the gateway first`,
    );
  const common = (c: Command) => c.option('-c, --config <file>', 'YAML config file').option('-s, --storage <dir>', 'cache storage folder').option('--json', 'machine-readable output');
  common(cmd.command('status').description('Where the index lives, how many blobs and bytes it holds, whether it is complete')).action(async (opts: Opts) => {
    await withIndex(opts, false);
  });
  common(cmd.command('rebuild').description('Rebuild the index from the store now (run while the gateway is stopped)')).action(async (opts: Opts) => {
    await withIndex(opts, true);
  });
}

async function withIndex(opts: Opts, rebuild: boolean): Promise<void> {
  const config = loadConfig(opts.config, { storage: opts.storage });
  refuseSharedIndex(config, rebuild ? 'rebuild' : 'status');
  // Logs to stderr: stdout carries the answer (--json).
  const log = createLogger(config.log.level, process.stderr);
  const storage = await openStorage(config.storage, log);
  const index = await openCacheIndex(config, storage.driver, new BlobStore(storage.driver, 'cache'), log);
  try {
    if (rebuild) await index.keeper.rebuild('regway index rebuild');
    await index.ready();
    const s = index.status();
    process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : describe(s));
  } finally {
    await index.close();
    storage.close();
  }
}

/**
 * A fleet on one bucket keeps its index in Redis, not in a local file: opening SQLite here would
 * build a private index by listing the whole bucket. Say what to do instead.
 */
export function refuseSharedIndex(config: Config, what: 'status' | 'rebuild' | 'gc'): void {
  if (!(config.cluster && config.storage.driver === 's3')) return;
  const complete = `${fleetKeyPrefix(config)}idx:complete`;
  const how = {
    status: "read regway_index_complete and regway_cache_blobs on any instance's /metrics (or its status page)",
    rebuild: `delete the completeness marker (redis-cli DEL '${complete}'): the fleet's leader rebuilds the index from the bucket in the background while every instance serves`,
    gc: "lower storage.maxSize and restart the instances one by one: the fleet's eviction leader evicts while serving",
  }[what];
  throw new Error(
    `this config is a fleet on a shared bucket: its cache index lives in Redis, not in a local file. To ${what === 'gc' ? 'shrink the cache' : what === 'status' ? 'see it' : 'rebuild it'}, ${how}`,
  );
}

function describe(s: IndexStatus): string {
  return [
    `index:    ${s.location} (${s.fileBytes} bytes on disk)`,
    `holds:    ${s.blobs} blobs, ${s.bytes} bytes`,
    `state:    ${s.phase}${s.error ? ` (last build failed: ${s.error})` : ''}`,
    ...(s.reason ? [`built:    ${s.reason}, ${s.scanned} store objects read in ${(s.finishedAt ?? Date.now()) - (s.startedAt ?? Date.now())} ms`] : []),
    '',
  ].join('\n');
}
