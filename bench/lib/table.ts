// Pure: raw measurements -> rows with ratios and targets -> a text table and a markdown table.
// Kept free of I/O so the test in test/bench can check every ratio and verdict.
import type { LoadResult } from './wrk.js';
import { summarizeSingle, type ColdSingle } from '../cold-single.js';
import type { FarUpstream } from '../far-upstream.js';
import type { BigLayer } from '../big-layer.js';

export const MB = 1e6;

/** One cold concurrent pull against one peer (fresh storage). */
export interface ColdPull {
  clients: number;
  wallMs: number;
  /** Sum of the blob sizes (config + layers) of the image. */
  imageBlobBytes: number;
  /** Blob bytes the upstream sent for this scenario (its access log). */
  upstreamBlobBytes: number;
  upstreamBlobGets: number;
  upstreamManifestGets: number;
  /** Bytes every client received and verified against the digests. */
  clientBytes: number;
  /** Blob downloads that failed and were retried (the pull still completed). */
  clientErrors: string[];
}

export interface RssSummary {
  /** Highest VmRSS seen by the sampler while serving. */
  peakRssBytes: number;
  /** The kernel's own high-water mark (VmHWM) read at the end: catches peaks between samples. */
  hwmBytes: number;
  samples: number;
  /** Peak VmRSS per phase (startup, cold pull, warm manifests, warm blobs). */
  phases?: Record<string, number>;
}

/** A load run, with the CPU time the serving processes used during it when it was measured. */
export type Load = LoadResult & { serverCpuSec?: number };

export interface BenchResults {
  cold: { regway: ColdPull; distribution: ColdPull };
  manifestByTag: { regway: Load; distribution: Load };
  manifestByDigest: { regway: Load; distribution: Load };
  blobs: { regway: Load; distribution: Load; nginx: Load; blobBytes: number };
  rss: { regway: RssSummary; distribution?: RssSummary };
  /** One client, cold, layer by layer; `direct` is the upstream read without a gateway. */
  coldSingle?: ColdSingle;
  /** N clients, cold, the upstream behind a rate-limited link; or why it did not run. */
  far?: FarUpstream | { skipped: string };
  /** One large layer, N clients, cold, through a fresh regway (--big-layer-mb). */
  bigLayer?: BigLayer;
}

/** What the gateway must reach to be worth putting in front of a registry, measured in one run on the 2-core machine. */
export const TARGETS = {
  maxAmplification: 1.0,
  minManifestRatio: 10,
  minBlobShareOfNginx: 0.8,
  maxPeakRssBytes: 200 * MB,
  /** One client, cold: share of the upstream's own speed. */
  minColdShareOfDirect: 0.6,
  /** One client, cold: time to first byte over the upstream's own. */
  maxColdTtfbRatio: 1.5,
  /** Far upstream: wall time over the link's limit, and over distribution's. */
  maxFarOverLimit: 1.2,
  maxFarOverDistribution: 0.3,
} as const;

export interface Row {
  scenario: string;
  unit: string;
  regway: number | undefined;
  distribution: number | undefined;
  nginx: number | undefined;
  ratio: number | undefined;
  /** How the ratio is formed, e.g. "regway/distribution". */
  ratioOf: string;
  target: string;
  /** undefined: informational row without a target. */
  met: boolean | undefined;
  /** Why a measurement is not trustworthy (errors during the run); a row with a note never passes. */
  note?: string;
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

export function amplification(c: ColdPull): number {
  return c.upstreamBlobBytes / c.imageBlobBytes;
}

/** A load run with error responses or socket errors measured something other than serving. */
function loadProblem(name: string, r: LoadResult): string | undefined {
  if (r.requests === 0) return `${name}: no request completed`;
  if (r.non2xx > 0) return `${name}: ${r.non2xx} non-2xx responses`;
  if (r.socketErrors > 0) return `${name}: ${r.socketErrors} socket errors`;
  return undefined;
}

function notes(...ps: (string | undefined)[]): string | undefined {
  const s = ps.filter(Boolean).join('; ');
  return s || undefined;
}

function coldProblem(name: string, c: ColdPull): string | undefined {
  const want = c.imageBlobBytes * c.clients;
  const errs = c.clientErrors.length ? `${name}: ${c.clientErrors.length} failed blob downloads retried (${c.clientErrors[0]})` : undefined;
  return notes(c.clientBytes !== want ? `${name}: clients verified ${c.clientBytes} of ${want} bytes` : undefined, errs);
}

function coldRows(r: BenchResults): Row[] {
  const { regway, distribution } = r.cold;
  // Only regway's own problems fail its target; the peer's are reported.
  const own = coldProblem('regway', regway);
  const note = notes(own, coldProblem('distribution', distribution));
  const amp = amplification(regway);
  return [{
    scenario: `cold pull, ${regway.clients} concurrent clients: upstream bytes / image bytes`, unit: 'x',
    regway: amp, distribution: amplification(distribution), nginx: undefined,
    ratio: ratio(amplification(distribution), amp), ratioOf: 'distribution/regway',
    // Compared at the precision the table prints (2 decimals): 1.004x is "1.00x".
    target: `regway ${TARGETS.maxAmplification.toFixed(2)}x`, met: own ? false : Math.round(amp * 100) / 100 <= TARGETS.maxAmplification, note,
  }, {
    scenario: `cold pull, ${regway.clients} concurrent clients: wall time`, unit: 's',
    regway: regway.wallMs / 1000, distribution: distribution.wallMs / 1000, nginx: undefined,
    ratio: ratio(distribution.wallMs, regway.wallMs), ratioOf: 'distribution/regway', target: '-', met: undefined, note,
  }];
}

function manifestRow(label: string, m: { regway: Load; distribution: Load }): Row {
  const rt = ratio(m.regway.requestsPerSec, m.distribution.requestsPerSec);
  const note = notes(loadProblem('regway', m.regway), loadProblem('distribution', m.distribution));
  return {
    scenario: `warm manifest ${label}`, unit: 'req/s',
    regway: m.regway.requestsPerSec, distribution: m.distribution.requestsPerSec, nginx: undefined,
    ratio: rt, ratioOf: 'regway/distribution', target: `>= ${TARGETS.minManifestRatio}x`,
    met: note ? false : rt !== undefined && rt >= TARGETS.minManifestRatio, note,
  };
}

function blobRow(r: BenchResults): Row {
  const b = r.blobs;
  const rt = ratio(b.regway.bytesPerSec, b.nginx.bytesPerSec);
  const note = notes(loadProblem('regway', b.regway), loadProblem('distribution', b.distribution), loadProblem('nginx', b.nginx));
  return {
    scenario: `warm blob throughput (${(b.blobBytes / MB).toFixed(0)} MB blob)`, unit: 'MB/s',
    regway: b.regway.bytesPerSec / MB, distribution: b.distribution.bytesPerSec / MB, nginx: b.nginx.bytesPerSec / MB,
    ratio: rt, ratioOf: 'regway/nginx', target: `>= ${TARGETS.minBlobShareOfNginx.toFixed(2)}`,
    met: note ? false : rt !== undefined && rt >= TARGETS.minBlobShareOfNginx, note,
  };
}

/** CPU seconds per GB served: how much machine each server needs, which other load barely changes. */
function cpuPerGB(l: Load): number | undefined {
  return l.serverCpuSec === undefined || l.bytes === 0 ? undefined : l.serverCpuSec / (l.bytes / 1e9);
}

function blobCpuRow(r: BenchResults): Row {
  const b = r.blobs;
  return {
    scenario: 'warm blob: server CPU per GB served', unit: 'cpu-s/GB',
    regway: cpuPerGB(b.regway), distribution: cpuPerGB(b.distribution), nginx: cpuPerGB(b.nginx),
    ratio: ratio(cpuPerGB(b.regway), cpuPerGB(b.nginx)), ratioOf: 'regway/nginx', target: '-', met: undefined,
  };
}

function rssRow(r: BenchResults): Row {
  const peak = Math.max(r.rss.regway.peakRssBytes, r.rss.regway.hwmBytes);
  const dist = r.rss.distribution ? Math.max(r.rss.distribution.peakRssBytes, r.rss.distribution.hwmBytes) : undefined;
  return {
    scenario: 'peak RSS while serving (whole run)', unit: 'MB',
    regway: peak / MB, distribution: dist === undefined ? undefined : dist / MB, nginx: undefined,
    ratio: undefined, ratioOf: '-', target: `regway < ${TARGETS.maxPeakRssBytes / MB} MB`,
    met: r.rss.regway.samples > 0 && peak < TARGETS.maxPeakRssBytes,
    ...(r.rss.regway.samples === 0 ? { note: 'no RSS sample was taken' } : {}),
  };
}

function coldSingleRows(r: BenchResults): Row[] {
  const c = r.coldSingle;
  if (!c?.direct || !c.regway) return [];
  const [direct, rw] = [summarizeSingle(c.direct), summarizeSingle(c.regway)];
  const dist = c['distribution-proxy'] ? summarizeSingle(c['distribution-proxy']) : undefined;
  const share = ratio(rw.mbPerSec, direct.mbPerSec);
  const ttfb = ratio(rw.ttfbMs, direct.ttfbMs);
  return [{
    scenario: 'one client, cold miss (last column: the upstream read directly)', unit: 'MB/s',
    regway: rw.mbPerSec, distribution: dist?.mbPerSec, nginx: direct.mbPerSec,
    ratio: share, ratioOf: 'regway/direct', target: `>= ${TARGETS.minColdShareOfDirect.toFixed(2)}`,
    met: share !== undefined && share >= TARGETS.minColdShareOfDirect,
  }, {
    scenario: 'one client, cold miss: time to first byte, median (last column: direct)', unit: 'ms',
    regway: rw.ttfbMs, distribution: dist?.ttfbMs, nginx: direct.ttfbMs,
    ratio: ttfb, ratioOf: 'regway/direct', target: `<= ${TARGETS.maxColdTtfbRatio.toFixed(1)}x`,
    met: ttfb !== undefined && ttfb <= TARGETS.maxColdTtfbRatio,
  }];
}

function farRows(r: BenchResults): Row[] {
  const f = r.far;
  if (!f) return [];
  const label = `cold pull, upstream behind a shaped link`;
  if ('skipped' in f) return [{ scenario: `${label}: skipped`, unit: 's', regway: undefined, distribution: undefined, nginx: undefined, ratio: undefined, ratioOf: '-', target: '-', met: undefined, note: f.skipped }];
  const note = notes(coldProblem('regway', f.regway), coldProblem('distribution', f.distribution));
  const overLimit = ratio(f.regway.wallMs, f.limitMs);
  const overDist = ratio(f.regway.wallMs, f.distribution.wallMs);
  const base = { unit: 's', regway: f.regway.wallMs / 1000, distribution: f.distribution.wallMs / 1000, nginx: f.limitMs / 1000 };
  return [{
    scenario: `${label} (${f.rateMbit} Mbit/s), ${f.regway.clients} clients: wall time (last column: the link's limit)`, ...base,
    ratio: overLimit, ratioOf: 'regway/limit', target: `<= ${TARGETS.maxFarOverLimit.toFixed(1)}x`,
    met: note ? false : overLimit !== undefined && overLimit <= TARGETS.maxFarOverLimit, note,
  }, {
    scenario: `${label} (${f.rateMbit} Mbit/s), ${f.regway.clients} clients: regway vs distribution`, ...base,
    ratio: overDist, ratioOf: 'regway/distribution', target: `<= ${TARGETS.maxFarOverDistribution.toFixed(1)}x`,
    met: note ? false : overDist !== undefined && overDist <= TARGETS.maxFarOverDistribution, note,
  }, {
    scenario: `${label} (${f.rateMbit} Mbit/s): upstream bytes / image bytes`, unit: 'x',
    regway: amplification(f.regway), distribution: amplification(f.distribution), nginx: undefined,
    ratio: ratio(amplification(f.distribution), amplification(f.regway)), ratioOf: 'distribution/regway', target: '-', met: undefined,
  }];
}

/** The big-layer scenario: the upstream sends the layer once, and memory does not grow with it. */
export function bigLayerRows(b: BigLayer | undefined): Row[] {
  if (!b) return [];
  const label = `cold ${(b.layerBytes / MB).toFixed(0)} MB layer, ${b.clients} concurrent clients`;
  const want = b.layerBytes * b.clients;
  const note = b.clientBytes !== want ? `regway: clients verified ${b.clientBytes} of ${want} bytes` : undefined;
  const amp = b.upstreamBlobBytes / b.layerBytes;
  const peak = Math.max(b.rss.peakRssBytes, b.rss.hwmBytes);
  const none = { distribution: undefined, nginx: undefined, ratio: undefined, ratioOf: '-' };
  return [{
    scenario: `${label}: upstream bytes / layer bytes`, unit: 'x', regway: amp, ...none,
    target: `regway ${TARGETS.maxAmplification.toFixed(2)}x`, met: note ? false : Math.round(amp * 100) / 100 <= TARGETS.maxAmplification, note,
  }, {
    scenario: `${label}: regway peak RSS`, unit: 'MB', regway: peak / MB, ...none,
    target: `< ${TARGETS.maxPeakRssBytes / MB} MB`, met: note || b.rss.samples === 0 ? false : peak < TARGETS.maxPeakRssBytes, note,
  }, {
    scenario: `${label}: wall time`, unit: 's', regway: b.wallMs / 1000, ...none, target: '-', met: undefined,
  }];
}

/** Every row of the report: cold pulls first (what a cache is for), then warm hits, then memory. */
export function buildRows(r: BenchResults): Row[] {
  return [...coldSingleRows(r), ...coldRows(r), ...farRows(r), ...bigLayerRows(r.bigLayer), manifestRow('by tag', r.manifestByTag), manifestRow('by digest', r.manifestByDigest), blobRow(r), blobCpuRow(r), rssRow(r)];
}

/** Numbers with a precision that suits their size: 1.00, 12.3, 4567. */
export function fmt(v: number | undefined, unit = ''): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const digits = unit === 'x' ? 2 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toFixed(digits);
}

const HEAD = ['scenario', 'unit', 'regway', 'distribution-proxy', 'nginx or limit', 'ratio', 'target', 'met?'];

function cells(r: Row): string[] {
  const verdict = r.met === undefined ? '-' : r.met ? 'yes' : 'NO';
  return [r.scenario, r.unit, fmt(r.regway, r.unit), fmt(r.distribution, r.unit), fmt(r.nginx, r.unit),
    r.ratio === undefined ? '-' : `${fmt(r.ratio, 'x')}x (${r.ratioOf})`, r.target, verdict];
}

/** Aligned plain-text table for the terminal, with any measurement notes below it. */
export function formatText(rows: Row[]): string {
  const all = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i >= 2 && i <= 4 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cells(r)))];
  for (const r of rows) if (r.note) out.push(`note (${r.scenario}): ${r.note}`);
  return out.join('\n');
}

/** GitHub-flavoured markdown table, for docs/benchmarks.md. */
export function formatMarkdown(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i >= 2 && i <= 5 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) out.push(`| ${cells(r).map(esc).join(' | ')} |`);
  const ns = rows.filter((r) => r.note).map((r) => `- ${r.scenario}: ${r.note}`);
  return [...out, ...(ns.length ? ['', ...ns] : [])].join('\n');
}

/** Replaces the generated block between the markers, or appends one when the markers are absent. */
export function spliceGenerated(doc: string, block: string, begin = '<!-- bench:begin -->', end = '<!-- bench:end -->'): string {
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  const wrapped = `${begin}\n${block.trim()}\n${end}`;
  if (i === -1 || j === -1 || j < i) return `${doc.trimEnd()}\n\n${wrapped}\n`;
  return doc.slice(0, i) + wrapped + doc.slice(j + end.length);
}
