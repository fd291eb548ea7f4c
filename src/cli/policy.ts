import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../obs/logger.js';
import { createGateway } from '../server/gateway.js';

/** Exit codes: 0 the policy lets the image through (or none covers it), 1 its policy refuses it (in audit mode too: it would). */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Pull policy (docs/policy.md): evaluate images against the configured policies');
  policy
    .command('check <image>')
    .description("Evaluate an image against the config's pull policy without pulling it: fetches its manifest, signatures and vulnerability reports through the config's upstreams, never a layer")
    .option('-c, --config <file>', 'YAML config file (registries, routing and policies)')
    .option('--json', 'print the verdict as JSON')
    .addHelpText(
      'after',
      `
The image is named as clients name it through the gateway: registry/name:tag or @digest (a hosted
repository by its bare name). The verdict says the policy, the reason, and what would make it pass.

Examples:
  regway policy check registry.example.com/team/app:v1 --config /etc/regway/regway.yaml
  regway policy check ghcr.io/acme/api@sha256:<hex> -c regway.yaml --json`,
    )
    .action(async (image: string, opts: { config?: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const log = createLogger(opts.json ? 'silent' : 'error');
      // The gateway's own wiring, not listening, on a throw-away memory store and folder: nothing
      // is cached, audited or saved where a running gateway keeps its state.
      const scratch = mkdtempSync(join(tmpdir(), 'regway-policy-check-'));
      const storage = { ...config.storage, driver: 'memory' as const, path: scratch, index: undefined };
      const gw = await createGateway({ ...config, cluster: undefined, storage, audit: { ...config.audit, enabled: false } }, log);
      try {
        const r = await gw.policy.check(image);
        if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else if (!r.policy) process.stdout.write(`${image} (${r.digest}): no policy covers ${r.registry}/${r.repository}; served\n`);
        else {
          const what = r.decision === 'allow' ? 'allowed' : r.decision === 'deny' ? 'REFUSED' : 'would be refused (audit mode: served, counted)';
          process.stdout.write(`${image} (${r.digest}): ${what} by policy ${r.policy} (${r.mode}): ${r.reason}: ${r.detail}\n`);
        }
        process.exitCode = r.allow ? 0 : 1;
      } finally {
        await gw.close();
        rmSync(scratch, { recursive: true, force: true });
      }
    });
}
