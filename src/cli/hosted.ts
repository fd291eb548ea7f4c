import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../obs/logger.js';
import { openStorage } from '../store/open-driver.js';
import { DriverMetadataStore } from '../store/metadata.js';
import { HostedContent } from '../hosted/content.js';
import { collectGarbage } from '../hosted/gc.js';
import { parseDuration } from '../config/units.js';

export function registerHosted(program: Command): void {
  const hosted = program.command('hosted').description('Hosted (pushable) repositories');
  hosted
    .command('gc')
    .description('Delete hosted blobs that no manifest references (uploads younger than the grace period are kept)')
    .option('-c, --config <file>', 'YAML config file')
    .option('-s, --storage <dir>', 'storage folder')
    .option('--grace <duration>', 'keep blobs written within this window (default hosted.gcGrace, 1h)')
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .addHelpText(
      'after',
      `
Examples:
  regway hosted gc --storage /var/lib/regway --dry-run
  regway hosted gc --config /etc/regway/regway.yaml --grace 2h
Safe while the gateway runs (pushes in progress are protected by the grace period); set
hosted.gcInterval to run it inside the gateway instead.`,
    )
    .action(async (o: { config?: string; storage?: string; grace?: string; dryRun?: boolean }) => {
      const config = loadConfig(o.config, { storage: o.storage });
      const log = createLogger(config.log.level);
      const storage = await openStorage(config.storage, log);
      try {
        const meta = new DriverMetadataStore(storage.driver);
        const r = await collectGarbage(meta, new HostedContent(storage.driver), {
          graceMs: o.grace ? parseDuration(o.grace) : config.hosted.gcGrace,
          dryRun: o.dryRun,
        });
        process.stdout.write(
          `regway hosted gc: ${r.repositories} repositories, ${r.manifests} manifests; ${o.dryRun ? 'would remove' : 'removed'} ${r.removed} blobs (${r.bytesRemoved} bytes), kept ${r.kept}\n`,
        );
      } finally {
        storage.close();
      }
    });
}
