// `regway bench pull`: runs src/diagnose/images/bench-pull.ts over each endpoint and prints a comparison table.
import type { Command } from 'commander';
import { benchPull, type BenchResult } from '../diagnose/images/bench-pull.js';
import { fmtBytes } from '../diagnose/common/http.js';
import { progressBar } from '../diagnose/images/progress.js';

const mib = (n: number): string => (n / 1024 ** 2).toFixed(1);

function table(r: BenchResult): string {
  const rows = [
    `${r.image}: ${r.clients} client(s) x ${r.rounds} round(s) per endpoint, after ${r.warmup} warm-up pull(s) each (not counted); the order alternates per round`,
    `${'endpoint'.padEnd(36)} ${'pulls'.padStart(6)} ${'fail'.padStart(5)} ${'MiB/s'.padStart(8)} ${'spread'.padStart(15)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'ttfb p50'.padStart(9)}  cache`,
  ];
  for (const e of r.endpoints) {
    const cache = Object.entries(e.cache)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    const spread = r.rounds > 1 ? `${mib(e.spread.min)}-${mib(e.spread.max)} ±${e.spread.relativePercent}%` : 'one round';
    rows.push(
      `${e.endpoint.padEnd(36)} ${String(e.pulls).padStart(6)} ${String(e.failures).padStart(5)} ${mib(e.bytesPerSecond).padStart(8)} ${spread.padStart(15)} ${String(e.pullMs.p50).padStart(8)} ${String(e.pullMs.p90).padStart(8)} ${String(e.pullMs.p99).padStart(8)} ${String(e.pullMs.max).padStart(8)} ${String(e.ttfbMs.p50).padStart(9)}  ${cache}`,
    );
    for (const err of e.errors) rows.push(`  error: ${err}`);
  }
  rows.push(`bytes per endpoint: ${r.endpoints.map((e) => fmtBytes(e.bytes)).join(', ')}`);
  if (r.rounds > 1) rows.push('spread: lowest-highest round throughput; a difference between endpoints inside it is noise (run more rounds)');
  return rows.join('\n');
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure pulls');
  bench
    .command('pull')
    .description('full pulls (manifests and every blob, digests verified) through each endpoint by N concurrent clients')
    .argument('<image>', 'image reference')
    .requiredOption('--via <url...>', 'endpoints to compare: the registry itself and/or gateways')
    .option('-c, --clients <n>', 'concurrent clients per endpoint', '4')
    .option('-n, --rounds <n>', 'measured rounds: every endpoint in turn, each client pulling once; the order alternates', '1')
    .option('--warmup <n>', 'unmeasured pulls per endpoint first (the first pull pays the JIT and cold connections)', '1')
    .option('--platform <os/arch>', 'platform to pull', 'linux/amd64')
    .option('--insecure', 'do not verify TLS certificates (labs only)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Endpoints run one after the other, never at once; each is warmed up first, and the order
alternates per round. Requests say User-Agent regway-bench/<version>, so a regway gateway keeps
them out of its pull counts, top lists, alerts and SLO. Exit 1 when any pull failed.
Examples:
  regway bench pull 127.0.0.1:5000/team/app:1 --via http://127.0.0.1:5000 http://127.0.0.1:8080 -c 8 -n 4
  regway bench pull docker.io/library/alpine:3.20 --via http://regway.internal:5000 --json`,
    )
    .action(async (image: string, o: { via: string[]; clients: string; rounds: string; warmup: string; platform: string; insecure?: boolean; json?: boolean }) => {
      const r = await benchPull(image, {
        via: o.via,
        clients: Math.max(1, Number(o.clients) || 4),
        rounds: Math.max(1, Number(o.rounds) || 1),
        warmup: Math.max(0, Number(o.warmup) || 0),
        platform: o.platform,
        ...(o.insecure ? { insecure: true } : {}),
        progress: (e) => progressBar(e),
      });
      process.stdout.write((o.json ? JSON.stringify(r, null, 2) : table(r)) + '\n');
      process.exitCode = r.endpoints.some((e) => e.failures) ? 1 : 0;
    });
}
