import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { parseSize } from '../config/units.js';
import { createLogger } from '../obs/logger.js';
import { createGateway } from '../server/gateway.js';
import { verifyStore, type VerifyReport } from '../store/verify.js';
import { DriverMetadataStore } from '../store/metadata.js';

/** Exit codes: 0 nothing damaged is left, 1 damaged blobs that could not be fetched again. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Re-hash every stored blob (cache and hosted); put damaged ones aside and fetch cache blobs again from their upstream')
    .option('-c, --config <file>', 'YAML config file (storage and the upstreams to refetch from)')
    .option('-s, --storage <dir>', 'storage folder')
    .option('--rate <size>', 'read at most this many bytes a second, e.g. 50MiB (default: no limit)')
    .option('--resume', 'continue after the last shard an interrupted run finished')
    .option('--no-refetch', 'only report and put aside; do not fetch damaged cache blobs again')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Damaged blobs are moved to <storage>/quarantine/ (kept for inspection) and no longer served; a
cache blob is then fetched again from the upstream of a repository that links it. Safe to run while
the gateway serves; pace it with --rate and schedule it (deploy/systemd/regway-verify.timer).

Examples:
  regway verify --config /etc/regway/regway.yaml --rate 50MiB
  regway verify --storage /var/lib/regway --no-refetch --json
  regway verify --config /etc/regway/regway.yaml --resume        # after an interrupted run`,
    )
    .action(async (opts: { config?: string; storage?: string; rate?: string; resume?: boolean; refetch: boolean; json?: boolean }) => {
      const config = loadConfig(opts.config, { storage: opts.storage });
      const log = createLogger(opts.json ? 'warn' : config.log.level);
      // The gateway's own wiring, not listening: its storage, and its cache to fetch blobs again.
      const gw = await createGateway({ ...config, audit: { ...config.audit, enabled: false } }, log);
      let report: VerifyReport;
      try {
        report = await verifyStore(gw.cache.driver, new DriverMetadataStore(gw.cache.driver), {
          rate: opts.rate ? parseSize(opts.rate) : 0,
          resume: opts.resume,
          refetch: opts.refetch
            ? async (repo, digest) => {
                const r = await gw.cache.blobs.get(repo, digest, { head: false });
                if (r.body)
                  for await (const _ of r.body) {
                    /* drain: the fetch commits as it is read */
                  }
                if (r.file) {
                  await r.file.fh.close();
                  r.file.release();
                }
                return true;
              }
            : undefined,
          onShard: (shard, rep) => log.debug({ shard, checked: rep.checked, damaged: rep.damaged.length }, 'verified shard'),
        });
      } finally {
        await gw.close();
      }
      const left = report.damaged.filter((d) => !d.refetched);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        process.stdout.write(
          `regway verify: ${report.checked} blobs, ${report.bytes} bytes checked${report.resumedFrom ? ` (resumed after ${report.resumedFrom})` : ''}; ${report.damaged.length} damaged, ${report.damaged.length - left.length} fetched again\n`,
        );
        for (const d of report.damaged)
          process.stdout.write(
            `  ${d.digest}: ${d.found.startsWith('unreadable') ? d.found : `bytes hash to ${d.found}`}; ${d.quarantined ? `kept in ${d.quarantined}` : 'removed'}; ${d.refetched ? 'fetched again' : d.namespace === 'hosted' ? 'hosted content: push it again' : 'not fetched again'}\n`,
          );
      }
      process.exitCode = left.length > 0 ? 1 : 0;
    });
}
