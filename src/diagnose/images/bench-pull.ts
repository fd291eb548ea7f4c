// `regway bench pull`: full pulls (manifest, platform manifest, config and every layer, digests verified) through
// each endpoint by N concurrent clients, so a gateway can be compared with the registry itself on the same image.
import { createHash } from 'node:crypto';
import { drain } from '../../client/upstream-client.js';
import { parseImageRef, type ImageRef } from '../../oci/reference.js';
import { blobsOf, firstHeader, ImageClient } from './image-client.js';
import { errorText } from '../common/http.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { pool, roundOrder, spreadOf, summarize, type Spread, type Summary } from './stats.js';

interface BenchOptions {
  /** Endpoints to compare: registry URLs or gateway URLs (another host than the image's gets ?ns=). */
  via: string[];
  /** Concurrent clients per endpoint (default 4). */
  clients?: number;
  /** Measured rounds (default 1): in each, every endpoint in turn, each client pulling once; the order rotates per round. */
  rounds?: number;
  /** Unmeasured pulls per endpoint before the first round (default 1): the first pull pays the JIT and cold connections. */
  warmup?: number;
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

interface RoundResult {
  round: number;
  position: number;
  pulls: number;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
}

interface EndpointResult {
  endpoint: string;
  pulls: number;
  failures: number;
  errors: string[];
  bytes: number;
  /** Time spent in this endpoint's measured rounds (warm-up excluded). */
  durationMs: number;
  /** Bytes of all measured pulls over the time of the endpoint's rounds. */
  bytesPerSecond: number;
  /** Throughput of each round, and how far they lie apart: differences inside the spread are noise. */
  rounds: RoundResult[];
  spread: Spread;
  pullMs: Summary;
  /** Time to response headers of every measured request. */
  ttfbMs: Summary;
  /** x-regway-cache values seen on measured blob answers (gateways only). */
  cache: Record<string, number>;
  /** Warm-up pulls (not measured) and their cache answers. */
  warmup: { pulls: number; failures: number; cache: Record<string, number> };
}

export interface BenchResult {
  image: string;
  clients: number;
  rounds: number;
  warmup: number;
  order: string[][];
  endpoints: EndpointResult[];
}

interface Tally {
  bytes: number;
  ttfb: number[];
  cache: Record<string, number>;
}

async function timed<T>(t: Tally, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  t.ttfb.push(performance.now() - t0);
  return r;
}

/** One full pull; throws on any failure, including a digest mismatch. */
async function pullOnce(c: ImageClient, ref: ImageRef, o: BenchOptions, t: Tally, progress: Progress): Promise<void> {
  const r = await timed(t, () => c.resolve(ref));
  const p = await timed(t, () => c.forPlatform(ref, r, r.platforms.length ? (o.platform ?? 'linux/amd64') : undefined));
  if (!p) throw new Error(`no ${o.platform ?? 'linux/amd64'} manifest`);
  await pool(blobsOf(p.info), o.parallelBlobs ?? 3, async (b) => {
    const res = await timed(t, () => c.blob(ref.name, b.digest));
    if (res.status !== 200) {
      await drain(res);
      throw new Error(`blob ${b.digest}: ${res.status}`);
    }
    const cache = firstHeader(res.headers, 'x-regway-cache');
    if (cache) t.cache[cache] = (t.cache[cache] ?? 0) + 1;
    const h = createHash('sha256');
    for await (const chunk of res.body) {
      h.update(chunk as Buffer);
      t.bytes += (chunk as Buffer).length;
      progress.add((chunk as Buffer).length);
    }
    if (`sha256:${h.digest('hex')}` !== b.digest) throw new Error(`blob ${b.digest}: content does not match its digest`);
  });
  progress.add(0, 1);
}

/** One endpoint under measurement: its clients (one connection pool each, like separate nodes) live across rounds. */
class EndpointRun {
  readonly clients: ImageClient[];
  readonly tally: Tally = { bytes: 0, ttfb: [], cache: {} };
  readonly pulls: number[] = [];
  readonly errors: string[] = [];
  readonly rounds: RoundResult[] = [];
  readonly warm = { pulls: 0, failures: 0, cache: {} as Record<string, number> };

  constructor(
    readonly endpoint: string,
    private readonly ref: ImageRef,
    private readonly o: BenchOptions,
  ) {
    this.clients = Array.from(
      { length: o.clients ?? 4 },
      () =>
        new ImageClient({
          endpoint,
          registry: ref.registry,
          insecure: !!o.insecure,
          ...(o.caFile ? { caFile: o.caFile } : {}),
          ...(o.username !== undefined ? { username: o.username, password: o.password ?? '' } : {}),
          timeoutMs: o.timeoutMs ?? 120_000,
          tool: 'bench',
        }),
    );
  }

  /** Pulls that warm the JIT and the connections; counted nowhere but `warm`. */
  async warmup(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const t: Tally = { bytes: 0, ttfb: [], cache: this.warm.cache };
      try {
        await pullOnce(this.clients[0]!, this.ref, this.o, t, NO_PROGRESS);
        this.warm.pulls++;
      } catch {
        this.warm.failures++;
      }
    }
  }

  async round(round: number, position: number): Promise<void> {
    // One bar per endpoint and round: rounds alternate endpoints, so a bar per endpoint would be redrawn by the other.
    const progress = this.o.progress?.(`${this.endpoint} (round ${round + 1})`) ?? NO_PROGRESS;
    progress.addTotal(0, this.clients.length);
    const before = this.tally.bytes;
    const ok = this.pulls.length;
    const t0 = performance.now();
    await Promise.all(
      this.clients.map(async (c) => {
        const p0 = performance.now();
        try {
          await pullOnce(c, this.ref, this.o, this.tally, progress);
          this.pulls.push(performance.now() - p0);
        } catch (e) {
          this.errors.push(errorText(e));
        }
      }),
    );
    const durationMs = performance.now() - t0;
    progress.done();
    const bytes = this.tally.bytes - before;
    this.rounds.push({ round, position, pulls: this.pulls.length - ok, bytes, durationMs: Math.round(durationMs), bytesPerSecond: Math.round(bytes / Math.max(durationMs / 1000, 1e-3)) });
  }

  result(): EndpointResult {
    const durationMs = this.rounds.reduce((n, r) => n + r.durationMs, 0);
    return {
      endpoint: this.endpoint,
      pulls: this.pulls.length,
      failures: this.errors.length,
      errors: [...new Set(this.errors)].slice(0, 5),
      bytes: this.tally.bytes,
      durationMs,
      bytesPerSecond: Math.round(this.tally.bytes / Math.max(durationMs / 1000, 1e-3)),
      rounds: this.rounds,
      spread: spreadOf(this.rounds.map((r) => r.bytesPerSecond)),
      pullMs: summarize(this.pulls),
      ttfbMs: summarize(this.tally.ttfb),
      cache: this.tally.cache,
      warmup: this.warm,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }
}

/**
 * Benchmarks the endpoints one after the other (never at once: they would compete for the same CPU and
 * disk). Each endpoint is warmed up first (unmeasured), then the rounds alternate which endpoint goes
 * first, so neither a cold JIT nor the order decides the comparison; the per-round spread says how
 * much of a difference is noise.
 */
export async function benchPull(image: string, o: BenchOptions): Promise<BenchResult> {
  const ref = parseImageRef(image);
  const clients = o.clients ?? 4;
  const rounds = o.rounds ?? 1;
  const warmup = o.warmup ?? 1;
  const runs = o.via.map((v) => new EndpointRun(v.replace(/\/+$/, ''), ref, o));
  const order: string[][] = [];
  try {
    for (const r of runs) await r.warmup(warmup);
    for (let round = 0; round < rounds; round++) {
      const seq = roundOrder(runs, round);
      order.push(seq.map((r) => r.endpoint));
      for (const [position, r] of seq.entries()) await r.round(round, position);
    }
  } finally {
    await Promise.all(runs.map((r) => r.close()));
  }
  return { image, clients, rounds, warmup, order, endpoints: runs.map((r) => r.result()) };
}
