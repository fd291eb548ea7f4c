// `regway inspect`: prints what src/diagnose/images/inspect.ts finds. Exit 1 when an image could not be read.
import type { Command } from 'commander';
import { fmtBytes } from '../diagnose/common/http.js';
import { inspectImages, type ImageReport, type SharingReport } from '../diagnose/images/inspect.js';

function printImage(r: ImageReport): string {
  const out = [`${r.ref}${r.digest ? `  ${r.digest}` : ''}`];
  if (r.error) return [...out, `  error: ${r.error}`].join('\n');
  out.push(`  ${r.mediaType}`);
  for (const p of r.platforms) {
    const c = p.config;
    out.push(
      `  ${p.platform}: ${p.layers.length} layers, ${fmtBytes(p.totalBytes)}; created ${c.created ?? '?'}, user ${c.user}, entrypoint ${JSON.stringify(c.entrypoint ?? [])} cmd ${JSON.stringify(c.cmd ?? [])}`,
    );
    for (const l of p.layers) out.push(`    ${l.digest}  ${fmtBytes(l.size).padStart(10)}  ${l.mediaType}`);
  }
  for (const f of r.findings) out.push(`  ${f.severity.toUpperCase()} ${f.code}: ${f.detail}`);
  return out.join('\n');
}

function printSharing(s: SharingReport): string {
  const out = [
    `shared layers (${s.platform}, ${s.images} images): ${s.shared.length}; pulling all takes ${fmtBytes(s.uniqueBytes)} instead of ${fmtBytes(s.totalBytes)}, sharing saves ${fmtBytes(s.savedBytes)}`,
  ];
  for (const l of s.shared.slice(0, 20)) out.push(`  ${l.digest}  ${fmtBytes(l.size).padStart(10)}  in ${l.images.length}: ${l.images.join(', ')}`);
  return out.join('\n');
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show platforms, layers and config of images, what to fix about them, and the layers several images share')
    .argument('<image...>', 'image references')
    .option('--via <url>', 'read through a regway gateway (requests carry ?ns=<registry>)')
    .option('--plain-http', 'talk plain HTTP to the registry')
    .option('--insecure', 'do not verify TLS certificates (labs only)')
    .option('--ca-file <pem>', 'trust this CA bundle')
    .option('-u, --username <user>', 'login (password from REGWAY_PASSWORD)')
    .option('--platform <os/arch>', 'platform to compare layers on', 'linux/amd64')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Findings: TAG_LATEST, TAG_UNVERSIONED, NO_AMD64, NO_ARM64, MANY_LAYERS, HUGE_LAYER, SCHEMA1.
Examples:
  regway inspect ghcr.io/org/api:2.3.1
  regway inspect ghcr.io/org/api:2.3.1 ghcr.io/org/worker:2.3.1 ghcr.io/org/cron:2.3.1   # what the shared base saves
  regway inspect --via http://regway.internal:5000 docker.io/library/alpine:3.20 --json`,
    )
    .action(async (refs: string[], o: { via?: string; plainHttp?: boolean; insecure?: boolean; caFile?: string; username?: string; platform: string; json?: boolean }) => {
      const res = await inspectImages(refs, {
        platform: o.platform,
        ...(o.via ? { via: o.via } : {}),
        ...(o.plainHttp ? { plainHttp: true } : {}),
        ...(o.insecure ? { insecure: true } : {}),
        ...(o.caFile ? { caFile: o.caFile } : {}),
        ...(o.username ? { username: o.username, password: process.env.REGWAY_PASSWORD ?? '' } : {}),
      });
      if (o.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
      else process.stdout.write([...res.images.map(printImage), ...(res.sharing ? [printSharing(res.sharing)] : [])].join('\n\n') + '\n');
      process.exitCode = res.images.some((i) => i.error) ? 1 : 0;
    });
}
