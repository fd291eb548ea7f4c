import type { Command } from 'commander';
import { request } from 'undici';
import type { SloReport, SloWindowReport } from '../obs/slo.js';

const fmtMs = (v: number | null) => (v === null ? '-' : v < 1000 ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : `${(v / 1000).toFixed(2)} s`);
const fmtPct = (v: number | null, d = 3) => (v === null ? '-' : `${v.toFixed(d)} %`);
const mark = (ok: boolean | null) => (ok === null ? ' ' : ok ? '✓' : '✗');

/** The SLO report as an aligned text table (what `regway slo` prints). */
function formatSloTable(r: SloReport): string {
  const head = ['window', 'pulls', 'failed', 'success', '', 'mean', '', 'p50', 'p95', 'p99', 'budget left'];
  const rows = r.windows.map((w: SloWindowReport) => [
    w.window,
    String(w.pulls),
    String(w.failed),
    fmtPct(w.successPercent),
    mark(w.met.success),
    fmtMs(w.latencyMs.mean),
    mark(w.met.latency),
    fmtMs(w.latencyMs.p50),
    fmtMs(w.latencyMs.p95),
    fmtMs(w.latencyMs.p99),
    w.pulls ? `${(w.errorBudget.remaining * 100).toFixed(1)} %` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return (
    [
      `targets: ${r.targets.successPercent} % of pulls succeed, mean pull latency <= ${r.targets.latencyMs} ms`,
      '',
      line(head),
      ...rows.map(line),
      '',
      'A failed pull: 5xx, 429 or upstream unavailable on any request of the pull; a 404 or 401 is not one.',
    ].join('\n') + '\n'
  );
}

export function registerSlo(program: Command): void {
  program
    .command('slo')
    .description('Show pull success ratio and latency against the SLO targets (1 h, 24 h, 30 d) from a running gateway')
    .option('--url <url>', 'gateway base URL', 'http://127.0.0.1:5000')
    .option('--json', 'print the raw JSON report')
    .option('--check', 'exit 1 when a target is missed in any window (for cron jobs and CI)')
    .addHelpText(
      'after',
      `
Examples:
  regway slo                                  # table for the gateway on 127.0.0.1:5000
  regway slo --url http://regway.internal:5000 --json | jq '.windows[0]'
  regway slo --check || echo "SLO missed"

Reads GET /-/slo. The gateway keeps the history under <storage>/_obs/slo.json across restarts.`,
    )
    .action(async (opts: { url: string; json?: boolean; check?: boolean }) => {
      const url = new URL('/-/slo', opts.url);
      let res;
      try {
        res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
      } catch (e) {
        throw new Error(`cannot reach the gateway at ${url.origin} (${(e as Error).message}); is it running? pass --url`);
      }
      if (res.statusCode !== 200) throw new Error(`${url} answered HTTP ${res.statusCode}; is this a regway gateway?`);
      const text = await res.body.text();
      const report = JSON.parse(text) as SloReport;
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatSloTable(report));
      if (opts.check && report.windows.some((w) => w.met.success === false || w.met.latency === false)) process.exitCode = 1;
    });
}
