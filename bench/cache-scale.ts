// The cache at production scale (#16): how start-up time, memory, the catalog and eviction behave
// as the number of cached blobs grows. Synthesises cache folders in regway's on-disk layout and
// measures any regway build through its CLI and HTTP only, so the same script gives the "before"
// and "after" of an index change.
//
//   node --import tsx bench/cache-scale.ts [--sizes 30000,300000] [--bin path/to/bin/regway] [--only ready,catalog]
//
// Run with --help for every option.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startDistribution, type Distribution } from '../test/helpers/distribution.js';
import { pushImage, type PushedImage } from '../test/helpers/images.js';
import { makeTempDir, removeTempDir } from '../test/helpers/proc.js';
import { ROOT } from './lib/peers.js';
import { pullImage, MANIFEST_ACCEPT } from './lib/pull.js';
import { machine, writeJson } from './lib/report.js';
import { ensureFolder, markDirty, SCALE_REGISTRY, type ScaleFolder } from './lib/scale-synth.js';
import {
  cacheLoadedMs, cacheStatus, dropCaches, medianGet, rateBetween, rssBytes, startLoad, startServer, stopServer, timedGet, walkCatalog,
  type ScaleServer, type ServeOptions,
} from './lib/scale-probe.js';
import { formatScaleTable, type ScaleRow } from './lib/scale-table.js';

const say = (m: string) => process.stderr.write(`[cache-scale] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MB = (b: number | undefined) => (b === undefined ? undefined : b / 1e6);

const PHASES = ['ready', 'catalog', 'tags', 'evict', 'gc'] as const;
type Phase = (typeof PHASES)[number];
const DEFAULT_REPOS: Record<number, number> = { 30000: 5000, 300000: 50000, 1000000: 100000 };

export const HELP = `Usage: node --import tsx bench/cache-scale.ts [options]

Cache at scale (#16): start-up time, memory, catalog, tag list and eviction of a regway build over
synthesised cache folders of N blobs. Prints a Markdown table; writes bench/results/cache-scale-<date>.json.

  --sizes N,N,...     blobs per cache folder                        default 30000,300000
  --repos N,N,...     repositories per size (same order)            default 5000 / 50000 / 100000 for 30k / 300k / 1M, else blobs/6
  --dir DIR           folders go to DIR/<size> (reused when marked)  default /tmp/regway-scale
  --bin PATH          regway entry point to measure                 default bin/regway of this tree
  --only LIST         phases: ${PHASES.join(',')}               default all
  --load-seconds S    warm manifest load without eviction            default 5
  --connections N     load connections                              default 16
  --walk-budget S     stop the full catalog walk after S seconds (then the row says how far it got) default 180
  -h, --help
`;

interface Options { sizes: number[]; repos: number[]; dir: string; bin: string; only: Set<Phase>; loadSec: number; connections: number; walkBudgetSec: number }

function parseOptions(argv: string[]): Options | undefined {
  const { values: f } = parseArgs({ args: argv, strict: true, options: {
    sizes: { type: 'string' }, repos: { type: 'string' }, dir: { type: 'string' }, bin: { type: 'string' }, only: { type: 'string' },
    'load-seconds': { type: 'string' }, connections: { type: 'string' }, 'walk-budget': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (f.help) return undefined;
  const list = (s: string) => s.split(',').map((x) => { const n = Number(x.trim()); if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${x}`); return n; });
  const sizes = list(f.sizes ?? '30000,300000');
  const repos = f.repos ? list(f.repos) : sizes.map((s) => DEFAULT_REPOS[s] ?? Math.max(1, Math.round(s / 6)));
  if (repos.length !== sizes.length) throw new Error('--repos needs one number per size');
  const only = new Set((f.only ?? PHASES.join(',')).split(',').map((p) => p.trim()) as Phase[]);
  for (const p of only) if (!PHASES.includes(p)) throw new Error(`unknown phase ${p} (known: ${PHASES.join(', ')})`);
  return {
    sizes, repos, only,
    dir: resolve(f.dir ?? '/tmp/regway-scale'),
    bin: resolve(f.bin ?? join(ROOT, 'bin', 'regway')),
    loadSec: Number(f['load-seconds'] ?? 5),
    connections: Number(f.connections ?? 16),
    walkBudgetSec: Number(f['walk-budget'] ?? 180),
  };
}

interface Ctx { o: Options; work: string; upstream?: { dist: Distribution; image: PushedImage } }

const serveOpts = (c: Ctx, f: ScaleFolder, maxSize: number, extra?: Record<string, string>): ServeOptions =>
  ({ bin: c.o.bin, storage: f.dir, maxSize, workDir: c.work, defaultRegistry: SCALE_REGISTRY, registry: SCALE_REGISTRY, extraRegistries: extra });

/**
 * A build with a cache index builds it in the background at its first start on an existing cache
 * (serving meanwhile): timed here, once, so the measured starts are the everyday ones. Builds
 * without an index (no regway_index_complete metric) skip this.
 */
async function buildIndex(c: Ctx, f: ScaleFolder): Promise<Partial<ScaleRow>> {
  const s = await startServer(serveOpts(c, f, f.totalBytes * 4));
  const pool = new Pool(s.url, { connections: 1 });
  try {
    for (;;) {
      const r = await timedGet(pool, '/metrics');
      const m = /^regway_index_complete (\d)/m.exec(r.body);
      if (!m) return {};
      if (m[1] === '1') return { indexBuildMs: performance.now() - s.spawnedAt, indexReadyMs: s.readyMs };
      await sleep(100);
    }
  } finally { await pool.close(); await stopServer(s); }
}

/** Start-up, memory, one pull, catalog and tag list on a cold page cache, with a cap far above the cache. */
async function measureServe(c: Ctx, f: ScaleFolder): Promise<Partial<ScaleRow>> {
  const pageCacheDropped = dropCaches();
  const s = await startServer(serveOpts(c, f, f.totalBytes * 4));
  const out: Partial<ScaleRow> = { pageCacheDropped, readyMs: s.readyMs, cacheLoadedMs: cacheLoadedMs(s), rssStartMB: MB(rssBytes(s.pid)) };
  const pool = new Pool(s.url, { connections: 1 });
  try {
    if (c.o.only.has('ready')) {
      const t0 = performance.now();
      const p = await pullImage(s.url, f.sample.repo, f.sample.tag, 3);
      Object.assign(out, { pullMs: performance.now() - t0, pulledBlobs: p.blobs, rssAfterPullMB: MB(rssBytes(s.pid)) });
    }
    if (c.o.only.has('catalog')) await measureCatalog(pool, f, c.o.walkBudgetSec * 1000, out);
    if (c.o.only.has('tags')) {
      const t = await medianGet(pool, `/v2/${f.sample.repo}/tags/list`);
      Object.assign(out, { tagsListMs: t.medianMs, tagsListFirstMs: t.firstMs });
    }
    out.rssEndMB = MB(rssBytes(s.pid));
  } finally { await pool.close(); await stopServer(s); }
  return out;
}

async function measureCatalog(pool: Pool, f: ScaleFolder, budgetMs: number, out: Partial<ScaleRow>): Promise<void> {
  // A page slower than the server's idle timeout (limits.idleTimeout, 60 s) ends in a closed
  // connection: that is the result to report, not a reason to drop the other measurements.
  const t0 = performance.now();
  let page;
  try { page = await medianGet(pool, '/v2/_catalog?n=100'); } catch (e) {
    out.catalogError = `${(e as Error).message} after ${Math.round(performance.now() - t0)} ms`;
    return;
  }
  const walk = await walkCatalog(pool, 1000, budgetMs);
  if (walk.complete && walk.repositories !== f.repos) throw new Error(`catalog walk saw ${walk.repositories} repositories, ${f.repos} were synthesised`);
  Object.assign(out, { catalogPageMs: page.medianMs, catalogPageFirstMs: page.firstMs, catalogWalkMs: walk.ms, catalogRepos: walk.repositories, catalogPages: walk.pages, catalogWalkComplete: walk.complete });
}

/** A real upstream holding one small image: its layer is the fresh blob whose commit starts an eviction. */
async function upstream(c: Ctx): Promise<NonNullable<Ctx['upstream']>> {
  if (c.upstream) return c.upstream;
  const dist = await startDistribution({ logAccess: false });
  const image = await pushImage(dist.url, 'bench/evict', 'v1', { layers: 1, layerSize: 256 * 1024 });
  c.upstream = { dist, image };
  return c.upstream;
}

/** Waits until the eviction counter moved and then stayed still for 500 ms; returns when it last moved. */
async function evictionEnd(pool: Pool, timeoutMs: number): Promise<{ at: number; evicted: number } | undefined> {
  const start = performance.now();
  let last = 0;
  let lastAt = start;
  while (performance.now() - start < timeoutMs) {
    const n = (await cacheStatus(pool)).evictions ?? 0;
    if (n !== last) { last = n; lastAt = performance.now(); }
    else if (n > 0 && performance.now() - lastAt > 500) return { at: lastAt, evicted: n };
    await sleep(25);
  }
  return undefined;
}

/**
 * Warm manifest-by-digest rate without eviction, then while the server evicts: the cap is the cache's
 * exact size, so committing one fresh blob from the real upstream pushes it over and the server evicts
 * down to its low-water mark. Deletes blobs: the folder is marked dirty first so the next run repairs it.
 */
async function measureEviction(c: Ctx, f: ScaleFolder): Promise<Partial<ScaleRow>> {
  const up = await upstream(c);
  const layer = up.image.layers[0]!;
  markDirty(f, { registries: [up.dist.host.replace(/:/g, '_')], blobs: [layer.digest] });
  const s = await startServer(serveOpts(c, f, f.totalBytes, { [up.dist.host]: up.dist.url }));
  const status = new Pool(s.url, { connections: 1 });
  try {
    const path = `/v2/${f.sample.repo}/manifests/${f.sample.manifest.digest}`;
    const base = await loadFor(s, path, c);
    const during = await loadWhileEvicting(s, status, path, `/v2/${up.dist.host}/bench/evict/blobs/${layer.digest}`, c);
    const after = await cacheStatus(status);
    return { manifestRps: base, ...during, bytesAfterEviction: after.bytes };
  } finally { await status.close(); await stopServer(s); }
}

/** Requests/s over loadSec, the first 500 ms (connection set-up, first reads) left out. */
async function loadFor(s: ScaleServer, path: string, c: Ctx): Promise<number> {
  const l = startLoad(s.url, path, c.o.connections);
  await sleep(500 + c.o.loadSec * 1000);
  const run = await l.stop();
  if (run.non200 || run.errors) throw new Error(`warm manifest load: ${run.non200} non-200, ${run.errors} errors`);
  return rateBetween(run, run.startedAt + 500, run.startedAt + 500 + c.o.loadSec * 1000);
}

async function loadWhileEvicting(s: ScaleServer, status: Pool, path: string, trigger: string, c: Ctx): Promise<Partial<ScaleRow>> {
  const l = startLoad(s.url, path, c.o.connections);
  await sleep(500);
  const t0 = performance.now();
  const fetchPool = new Pool(s.url, { connections: 1 });
  const r = await fetchPool.request({ method: 'GET', path: trigger, headers: { accept: MANIFEST_ACCEPT } });
  await r.body.dump();
  await fetchPool.close();
  if (r.statusCode !== 200) throw new Error(`fetching the fresh blob: HTTP ${r.statusCode}`);
  const end = await evictionEnd(status, 900_000);
  await sleep(300);
  const run = await l.stop();
  if (!end) return { evictNote: 'no eviction seen (status cache.evictions never moved)', loadNon200: run.non200, loadErrors: run.errors };
  return { manifestRpsEvicting: rateBetween(run, t0, end.at), evictMs: end.at - t0, evictedBlobs: end.evicted, loadNon200: run.non200, loadErrors: run.errors };
}

/** Offline `regway gc` with the cap just under the cache's size: today's gc evicts to 90 % of the cap. */
async function measureGc(c: Ctx, f: ScaleFolder, bytesNow: number): Promise<Partial<ScaleRow>> {
  markDirty(f);
  const gcCacheDropped = dropCaches();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [c.o.bin, 'gc', '--storage', f.dir, '--max-size', String(bytesNow - 1)], { encoding: 'utf8', cwd: c.work });
  const gcMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`regway gc failed (${r.status}): ${r.stderr.slice(-2000)}`);
  // "regway gc: N blobs removed, A -> B bytes (limit L)"; other builds may word it otherwise.
  const m = /(\d+) blobs removed, (\d+) -> (\d+) bytes/.exec(r.stdout);
  const gcEvictedPct = m ? (1 - Number(m[3]) / Number(m[2])) * 100 : undefined;
  return { gcMs, gcCacheDropped, gcRemoved: m ? Number(m[1]) : undefined, gcEvictedPct, gcOutput: r.stdout.trim() };
}

async function measureSize(c: Ctx, blobs: number, repos: number): Promise<ScaleRow> {
  const f = ensureFolder(join(c.o.dir, String(blobs)), blobs, repos, say);
  say(`${blobs} blobs / ${repos} repositories (${(f.totalBytes / 1e6).toFixed(1)} MB of blobs): folder ${f.action} in ${(f.generatedMs / 1000).toFixed(1)} s`);
  // The load average says whether other work shared the machine: these numbers are only comparable on a quiet one.
  const row: ScaleRow = { blobs, repos: f.repos, tags: f.tags, totalBytes: f.totalBytes, folderAction: f.action, folderMs: f.generatedMs, loadAvgBefore: loadavg()[0] };
  const { only } = c.o;
  // Files written behind the gateway's back (generated, repaired): its index no longer describes them.
  if (f.action !== 'reused') rmSync(join(f.dir, '_index'), { recursive: true, force: true });
  Object.assign(row, await buildIndex(c, f));
  if (only.has('ready') || only.has('catalog') || only.has('tags')) { say('start-up, memory, catalog, tags'); Object.assign(row, await measureServe(c, f)); }
  if (only.has('evict')) { say('warm manifests without and while evicting'); Object.assign(row, await measureEviction(c, f)); }
  if (only.has('gc')) { say('offline regway gc'); Object.assign(row, await measureGc(c, f, row.bytesAfterEviction ?? f.totalBytes)); }
  row.loadAvgAfter = loadavg()[0];
  say(JSON.stringify(row));
  return row;
}

/** Which code was measured: the commit of the tree the bin belongs to (and whether it had changes). */
function buildOf(bin: string): string | undefined {
  const dir = dirname(dirname(bin));
  const rev = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim();
  return rev ? `${rev}${dirty ? '+changes' : ''}` : undefined;
}

/** The whole benchmark for argv (without node and script); also run by `npm run bench -- --cache-scale`. */
export async function cacheScale(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  if (!o) { process.stdout.write(HELP); return 0; }
  const when = new Date();
  const c: Ctx = { o, work: makeTempDir('cache-scale') };
  mkdirSync(o.dir, { recursive: true });
  const rows: ScaleRow[] = [];
  try {
    for (let i = 0; i < o.sizes.length; i++) rows.push(await measureSize(c, o.sizes[i]!, o.repos[i]!));
  } finally {
    await c.upstream?.dist.stop();
    removeTempDir(c.work);
  }
  const m = machine();
  const header = `${when.toISOString()}, ${o.bin} (${buildOf(o.bin) ?? 'unknown build'}), ${m.nproc} CPUs, Node ${m.node}`;
  process.stdout.write(`\n${header}\n\n${formatScaleTable(rows)}\n`);
  const json = writeJson(ROOT, `cache-scale-${when.toISOString().replace(/[:.]/g, '-')}`, { when: when.toISOString(), command: `node --import tsx bench/cache-scale.ts ${argv.join(' ')}`.trim(), machine: m, bin: o.bin, build: buildOf(o.bin), options: { ...o, only: [...o.only] }, rows });
  say(`results: ${json}`);
  return 0;
}

// Run only as the entry point: bench/run.ts imports cacheScale().
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cacheScale(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => {
    process.stderr.write(`[cache-scale] failed: ${e.stack ?? e.message}\n`);
    process.exit(2);
  });
}
