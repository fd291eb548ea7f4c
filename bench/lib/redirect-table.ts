// Pure: the blob-redirect benchmark's measurements (#18) -> rows with ratios and targets -> tables.
// Its own columns (streaming vs redirect), so the side-by-side table keeps its shape.
import { fmt, ratio, MB } from './table.js';

/** One mode (regway streams the blob, or answers 307 to a presigned URL) over all its rounds. */
export interface ModeLoad {
  /** Blob downloads completed and verified (body hashed, equal to the digest). */
  requests: number;
  /** Of those, how many regway answered with a 307 the client followed. */
  redirects: number;
  /** Bytes the clients received and verified. */
  bytes: number;
  /** Seconds the clients were downloading (sum of the rounds). */
  wallSec: number;
  /** CPU seconds (utime+stime) regway's process used while this mode was measured. */
  regwayCpuSec: number;
  /** The same for radosgw (where the bytes come from in both modes); undefined when its pid is unknown. */
  rgwCpuSec?: number;
  /** Failed downloads (wrong status or digest), first few. */
  errors: string[];
}

export interface RedirectBench {
  layerBytes: number;
  clients: number;
  streaming: ModeLoad;
  redirect: ModeLoad;
}

export const REDIRECT_TARGET = { minCpuPerGBRatio: 10 } as const;

export interface RedirectRow {
  scenario: string;
  unit: string;
  streaming: number | undefined;
  redirect: number | undefined;
  ratio: number | undefined;
  ratioOf: string;
  target: string;
  met: boolean | undefined;
  note?: string;
}

const perGB = (cpu: number | undefined, bytes: number) => (cpu === undefined || bytes === 0 ? undefined : cpu / (bytes / 1e9));

/** Why a mode's numbers do not measure what the row says (a row with a note never passes). */
function problem(name: string, m: ModeLoad, wantRedirects: boolean): string | undefined {
  if (m.requests === 0) return `${name}: no download completed`;
  if (m.errors.length) return `${name}: ${m.errors.length} failed downloads (${m.errors[0]})`;
  if (wantRedirects && m.redirects !== m.requests) return `${name}: only ${m.redirects} of ${m.requests} downloads were redirected`;
  if (!wantRedirects && m.redirects !== 0) return `${name}: ${m.redirects} downloads were redirected`;
  return undefined;
}

export function redirectRows(b: RedirectBench): RedirectRow[] {
  const { streaming: s, redirect: r } = b;
  const note = [problem('streaming', s, false), problem('redirect', r, true)].filter(Boolean).join('; ') || undefined;
  const label = `warm ${(b.layerBytes / MB).toFixed(0)} MB blob, ${b.clients} clients`;
  const cpuS = perGB(s.regwayCpuSec, s.bytes);
  const cpuR = perGB(r.regwayCpuSec, r.bytes);
  const cpuRatio = ratio(cpuS, cpuR);
  const mbps = (m: ModeLoad) => (m.wallSec > 0 ? m.bytes / MB / m.wallSec : undefined);
  return [{
    scenario: `${label}: throughput`, unit: 'MB/s', streaming: mbps(s), redirect: mbps(r),
    ratio: ratio(mbps(r), mbps(s)), ratioOf: 'redirect/streaming', target: '-', met: undefined, note,
  }, {
    scenario: `${label}: regway CPU per GB served`, unit: 'cpu-s/GB', streaming: cpuS, redirect: cpuR,
    ratio: cpuRatio, ratioOf: 'streaming/redirect', target: `>= ${REDIRECT_TARGET.minCpuPerGBRatio}x lower`,
    // A redirect run that used no measurable CPU (0 ticks) is an infinite ratio: met.
    met: note ? false : cpuS !== undefined && cpuR !== undefined && (cpuR === 0 ? cpuS > 0 : cpuS / cpuR >= REDIRECT_TARGET.minCpuPerGBRatio),
    note,
  }, {
    scenario: `${label}: radosgw CPU per GB served`, unit: 'cpu-s/GB', streaming: perGB(s.rgwCpuSec, s.bytes), redirect: perGB(r.rgwCpuSec, r.bytes),
    ratio: ratio(perGB(r.rgwCpuSec, r.bytes), perGB(s.rgwCpuSec, s.bytes)), ratioOf: 'redirect/streaming', target: '-', met: undefined, note,
  }];
}

const HEAD = ['scenario', 'unit', 'streaming', 'redirect', 'ratio', 'target', 'met?'];

/** As fmt, but a redirect's few milli-seconds of CPU per GB keep two significant digits (0.0042, not 0.00). */
function num(v: number | undefined, unit: string): string {
  return v !== undefined && v > 0 && v < 0.1 && unit !== 'x' ? v.toPrecision(2) : fmt(v, unit);
}

function cells(r: RedirectRow): string[] {
  const verdict = r.met === undefined ? '-' : r.met ? 'yes' : 'NO';
  const rt = r.ratio === undefined ? (r.met && r.redirect === 0 ? 'inf' : '-') : `${r.ratio >= 100 ? r.ratio.toFixed(0) : fmt(r.ratio, 'x')}x (${r.ratioOf})`;
  return [r.scenario, r.unit, num(r.streaming, r.unit), num(r.redirect, r.unit), rt, r.target, verdict];
}

/** GitHub-flavoured markdown (also fine in a terminal), with any measurement notes below it. */
export function formatRedirectMarkdown(rows: RedirectRow[]): string {
  const out = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) out.push(`| ${cells(r).join(' | ')} |`);
  const notes = [...new Set(rows.map((r) => r.note).filter(Boolean))].map((n) => `- note: ${n}`);
  return [...out, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
