// `regway bench pull`: full pulls (manifest, platform manifest, config and every layer, digests verified) through
// each endpoint by N concurrent clients, so a gateway can be compared with the registry itself on the same image.
import { createHash } from 'node:crypto';
import { drain } from '../client/upstream-client.js';
import { parseImageRef, type ImageRef } from '../oci/reference.js';
import { blobsOf, firstHeader, ImageClient } from './image-client.js';
import { errorText } from './http.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { pool, summarize, type Summary } from './stats.js';

export interface BenchOptions {
  /** Endpoints to compare: registry URLs or gateway URLs (another host than the image's gets ?ns=). */
  via: string[];
  /** Concurrent clients per endpoint (default 4). */
  clients?: number;
  /** Pulls each client makes, one after the other (default 1). */
  rounds?: number;
  platform?: string;
  /** Blobs one pull downloads at once (dockerd's default is 3). */
  parallelBlobs?: number;
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  progress?: (endpoint: string) => Progress;
}

export interface EndpointResult {
  endpoint: string;
  pulls: number;
  failures: number;
  errors: string[];
  bytes: number;
  durationMs: number;
  /** Bytes of all pulls over the wall time of the endpoint's run. */
  bytesPerSecond: number;
  pullMs: Summary;
  /** Time to response headers of every request. */
  ttfbMs: Summary;
  /** x-regway-cache values seen on blob answers (gateways only). */
  cache: Record<string, number>;
}

export interface BenchResult { image: string; clients: number; rounds: number; endpoints: EndpointResult[] }

interface Tally { bytes: number; ttfb: number[]; cache: Record<string, number> }

async function timed<T>(t: Tally, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  t.ttfb.push(performance.now() - t0);
  return r;
}

/** One full pull; throws on any failure, including a digest mismatch. */
async function pullOnce(c: ImageClient, ref: ImageRef, o: BenchOptions, t: Tally, progress: Progress): Promise<void> {
  const r = await timed(t, () => c.resolve(ref));
  const p = await timed(t, () => c.forPlatform(ref, r, r.platforms.length ? o.platform ?? 'linux/amd64' : undefined));
  if (!p) throw new Error(`no ${o.platform ?? 'linux/amd64'} manifest`);
  await pool(blobsOf(p.info), o.parallelBlobs ?? 3, async (b) => {
    const res = await timed(t, () => c.blob(ref.name, b.digest));
    if (res.status !== 200) { await drain(res); throw new Error(`blob ${b.digest}: ${res.status}`); }
    const cache = firstHeader(res.headers, 'x-regway-cache');
    if (cache) t.cache[cache] = (t.cache[cache] ?? 0) + 1;
    const h = createHash('sha256');
    for await (const chunk of res.body) { h.update(chunk as Buffer); t.bytes += (chunk as Buffer).length; progress.add((chunk as Buffer).length); }
    if (`sha256:${h.digest('hex')}` !== b.digest) throw new Error(`blob ${b.digest}: content does not match its digest`);
  });
  progress.add(0, 1);
}

async function benchEndpoint(endpoint: string, ref: ImageRef, o: BenchOptions): Promise<EndpointResult> {
  const clients = o.clients ?? 4;
  const rounds = o.rounds ?? 1;
  const progress = o.progress?.(endpoint) ?? NO_PROGRESS;
  progress.addTotal(0, clients * rounds);
  const tally: Tally = { bytes: 0, ttfb: [], cache: {} };
  const pulls: number[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    // One client = one connection pool, like separate nodes.
    const c = new ImageClient({ endpoint, registry: ref.registry, insecure: !!o.insecure, ...(o.caFile ? { caFile: o.caFile } : {}), ...(o.username !== undefined ? { username: o.username, password: o.password ?? '' } : {}), timeoutMs: o.timeoutMs ?? 120_000 });
    try {
      for (let i = 0; i < rounds; i++) {
        const p0 = performance.now();
        try { await pullOnce(c, ref, o, tally, progress); pulls.push(performance.now() - p0); } catch (e) { errors.push(errorText(e)); }
      }
    } finally { await c.close().catch(() => undefined); }
  }));
  progress.done();
  const durationMs = performance.now() - t0;
  return {
    endpoint, pulls: pulls.length, failures: errors.length, errors: [...new Set(errors)].slice(0, 5), bytes: tally.bytes,
    durationMs: Math.round(durationMs), bytesPerSecond: Math.round(tally.bytes / Math.max(durationMs / 1000, 1e-3)),
    pullMs: summarize(pulls), ttfbMs: summarize(tally.ttfb), cache: tally.cache,
  };
}

/** Benchmarks the endpoints one after the other (never at once: they would compete for the same CPU and disk). */
export async function benchPull(image: string, o: BenchOptions): Promise<BenchResult> {
  const ref = parseImageRef(image);
  const endpoints: EndpointResult[] = [];
  for (const v of o.via) endpoints.push(await benchEndpoint(v.replace(/\/+$/, ''), ref, o));
  return { image, clients: o.clients ?? 4, rounds: o.rounds ?? 1, endpoints };
}
