// Talks to a regway build only through its CLI and HTTP, for the cache-at-scale benchmark (#16):
// start it on a synthesised folder and time readiness, read its memory, time catalog and tag
// requests, and drive a warm-manifest load counted in 100 ms buckets (so the rate inside any
// window, e.g. while an eviction runs, can be read afterwards).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { freePort } from '../../test/helpers/ports.js';
import { spawnDaemon, stopDaemon, type Daemon } from '../../test/helpers/proc.js';
import { parseStatusField } from './rss.js';
import { MANIFEST_ACCEPT } from './pull.js';

export interface ScaleServer { url: string; pid: number; daemon: Daemon; spawnedAt: number; readyMs: number; logFile: string }

/** Drops the page cache so start-up reads the folder from disk, as after a reboot. False when not permitted. */
export function dropCaches(): boolean {
  const r = spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
  return r.status === 0;
}

export function rssBytes(pid: number): number | undefined {
  try { return parseStatusField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'); } catch { return undefined; }
}

/** One GET with no keep-alive: the status, or 0 when nothing answers yet. */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false, timeout: 1_000 }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls every 10 ms from spawn until GET /v2/ is 200: the ms a client waits after a restart. */
async function waitReady(url: string, d: Daemon, spawnedAt: number, timeoutMs: number): Promise<number> {
  for (;;) {
    if (d.hasExited()) throw new Error('regway exited during start-up');
    if ((await probe(`${url}/v2/`)) === 200) return performance.now() - spawnedAt;
    if (performance.now() - spawnedAt > timeoutMs) throw new Error(`regway not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ServeOptions {
  bin: string;
  storage: string;
  maxSize: number;
  workDir: string;
  /** Extra registries (host -> upstream URL), e.g. a real upstream to fetch a fresh blob from. */
  extraRegistries?: Record<string, string>;
  defaultRegistry: string;
  /** The synthesised registry; its upstream refuses connections, so the cache must answer alone. */
  registry: string;
  timeoutMs?: number;
}

function writeConfig(o: ServeOptions, port: number): string {
  const registries: Record<string, unknown> = { [o.registry]: { upstreams: [{ url: 'http://127.0.0.1:9' }] } };
  for (const [host, url] of Object.entries(o.extraRegistries ?? {})) registries[host] = { upstreams: [{ url }] };
  const cfg = {
    listen: `127.0.0.1:${port}`,
    storage: { path: o.storage, maxSize: o.maxSize },
    // Tags written at synthesis time stay servable however old the folder is.
    cache: { maxStale: '3650d' },
    defaultRegistry: o.defaultRegistry,
    registries,
    // info: the "cache loaded" line tells how much of start-up the index load took.
    log: { level: 'info' },
  };
  const file = join(o.workDir, 'regway.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

export async function startServer(o: ServeOptions): Promise<ScaleServer> {
  const port = await freePort();
  const config = writeConfig(o, port);
  const logFile = join(o.workDir, `regway-${port}.log`);
  const url = `http://127.0.0.1:${port}`;
  const spawnedAt = performance.now();
  const daemon = spawnDaemon(process.execPath, [o.bin, 'serve', '--config', config], { stdoutFile: logFile, cwd: o.workDir });
  try {
    const readyMs = await waitReady(url, daemon, spawnedAt, o.timeoutMs ?? 600_000);
    return { url, pid: daemon.pid, daemon, spawnedAt, readyMs, logFile };
  } catch (e) {
    await stopDaemon(daemon, 2_000);
    throw new Error(`${(e as Error).message}\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  }
}

export const stopServer = (s: ScaleServer) => stopDaemon(s.daemon, 30_000);

/**
 * ms from spawn to regway's "cache loaded" log line (pino's `time`, ms resolution), or undefined
 * when a build does not log it. performance.timeOrigin turns the spawn instant into wall-clock ms.
 */
export function cacheLoadedMs(s: ScaleServer): number | undefined {
  const line = readFileSync(s.logFile, 'utf8').split('\n').find((l) => l.includes('"cache loaded"'));
  if (!line) return undefined;
  const t = (JSON.parse(line) as { time?: number | string }).time;
  const at = typeof t === 'string' ? Date.parse(t) : t; // pino: ISO text here, epoch ms by default
  return typeof at === 'number' && Number.isFinite(at) ? at - (performance.timeOrigin + s.spawnedAt) : undefined;
}

/** A GET whose body is read in full; returns status, ms, headers and body text. */
export async function timedGet(pool: Pool, path: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number; body: string; link?: string }> {
  const t0 = performance.now();
  const r = await pool.request({ method: 'GET', path, headers });
  const body = await r.body.text();
  const link = r.headers.link;
  return { status: r.statusCode, ms: performance.now() - t0, body, link: typeof link === 'string' ? link : undefined };
}

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

/** Median of n sequential GETs of path, each required to be 200. */
export async function medianGet(pool: Pool, path: string, n = 5): Promise<{ medianMs: number; firstMs: number; all: number[] }> {
  const all: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await timedGet(pool, path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    all.push(r.ms);
  }
  return { medianMs: median(all), firstMs: all[0]!, all };
}

/**
 * Walks the catalog n at a time following Link headers; counts what it saw. Stops after budgetMs
 * (complete: false): a walk whose every page costs a full scan would otherwise run for many minutes.
 */
export async function walkCatalog(pool: Pool, n: number, budgetMs: number): Promise<{ ms: number; repositories: number; pages: number; complete: boolean }> {
  const t0 = performance.now();
  let path: string | undefined = `/v2/_catalog?n=${n}`;
  let repositories = 0;
  let pages = 0;
  while (path) {
    if (performance.now() - t0 > budgetMs) return { ms: performance.now() - t0, repositories, pages, complete: false };
    const r = await timedGet(pool, path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    repositories += (JSON.parse(r.body) as { repositories: string[] }).repositories.length;
    pages++;
    path = /<([^>]+)>;\s*rel="next"/.exec(r.link ?? '')?.[1];
  }
  return { ms: performance.now() - t0, repositories, pages, complete: true };
}

/** Load counted per 100 ms bucket since start; non-2xx responses and errors are counted apart. */
export interface LoadRun { startedAt: number; buckets: number[]; non200: number; errors: number }

/**
 * `connections` loops GET path until stop() resolves. A Node client, not wrk: the buckets let the
 * rate be read for exactly the eviction's window, which wrk's whole-run summary cannot give.
 */
export function startLoad(url: string, path: string, connections = 16): { run: LoadRun; stop: () => Promise<LoadRun> } {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const run: LoadRun = { startedAt: performance.now(), buckets: [], non200: 0, errors: 0 };
  let stopping = false;
  const loop = async () => {
    while (!stopping) {
      try {
        const r = await pool.request({ method: 'GET', path, headers: { accept: MANIFEST_ACCEPT } });
        await r.body.dump();
        if (r.statusCode !== 200) run.non200++;
        const b = Math.floor((performance.now() - run.startedAt) / 100);
        run.buckets[b] = (run.buckets[b] ?? 0) + 1;
      } catch { run.errors++; }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return { run, stop: async () => { stopping = true; await Promise.all(loops); await pool.close(); return run; } };
}

/** Requests/s completed between two instants (performance.now() values) of a load run. */
export function rateBetween(run: LoadRun, from: number, to: number): number {
  const a = Math.max(0, Math.floor((from - run.startedAt) / 100));
  const b = Math.max(a + 1, Math.ceil((to - run.startedAt) / 100));
  let n = 0;
  for (let i = a; i < b; i++) n += run.buckets[i] ?? 0;
  return n / ((b - a) / 10);
}

/** Cache figures from GET /-/status, when the build serves them. */
export async function cacheStatus(pool: Pool): Promise<{ bytes?: number; blobs?: number; evictions?: number }> {
  const r = await timedGet(pool, '/-/status');
  if (r.status !== 200) return {};
  return (JSON.parse(r.body) as { cache?: { bytes?: number; blobs?: number; evictions?: number } }).cache ?? {};
}
