// Scenario: manifest requests per second once the image is cached, by tag and by digest, at a fixed
// duration and connection count (wrk). Each peer is first checked to answer with the right bytes.
import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Peer, Upstream } from './lib/peers.js';
import { MANIFEST_ACCEPT } from './lib/pull.js';
import { cpuSeconds } from './lib/rss.js';
import { runWrk, type LoadResult } from './lib/wrk.js';

export interface LoadOptions {
  /** Measured seconds per target, split over the rounds. */
  durationSec: number;
  /** Unmeasured run first, so JIT, caches and connection pools are warm for every peer alike. */
  warmupSec: number;
  /**
   * The measured time is cut into this many slices, interleaved across targets with a rotating
   * start: on a shared, noisy machine a burst of someone else's load then hits every peer alike
   * instead of whichever ran at that moment.
   */
  rounds: number;
  connections: number;
  threads: number;
}

export interface MeasuredLoad extends LoadResult {
  /** Requests the upstream received while this target was measured (0 = served from cache alone). */
  upstreamRequests: number;
  /** CPU seconds the peer's processes used while measured: efficiency that noise barely moves. */
  serverCpuSec: number;
  /** regway's x-regway-cache answer to the check request, when the peer sends one. */
  cache?: string;
  rounds: LoadResult[];
}

export interface Target { peer: Peer; url: string; headers: Record<string, string>; digest: string }

/**
 * One GET that must return the expected content: the body is hashed (nginx sends no
 * Docker-Content-Digest, and a header alone proves nothing about the bytes). Returns the cache header.
 */
async function check(t: Target): Promise<string | undefined> {
  const r = await request(t.url, { headers: t.headers });
  const h = createHash('sha256');
  for await (const chunk of r.body) h.update(chunk as Buffer);
  const got = `sha256:${h.digest('hex')}`;
  if (r.statusCode !== 200 || got !== t.digest) throw new Error(`${t.url}: HTTP ${r.statusCode}, body digest ${got}, want ${t.digest}`);
  const c = r.headers['x-regway-cache'];
  return typeof c === 'string' ? c : undefined;
}

/** Sums the rounds of one target into one result (pure). */
export function combine(rounds: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const durationSec = sum((r) => r.durationSec);
  const p50s = rounds.map((r) => r.latencyP50Ms).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const p99s = rounds.map((r) => r.latencyP99Ms).filter((v): v is number => v !== undefined);
  return {
    requests: sum((r) => r.requests), bytes: sum((r) => r.bytes), durationSec,
    requestsPerSec: sum((r) => r.requests) / durationSec, bytesPerSec: sum((r) => r.bytes) / durationSec,
    non2xx: sum((r) => r.non2xx), socketErrors: sum((r) => r.socketErrors),
    // Percentiles do not add up: the median round's p50 and the worst round's p99.
    ...(p50s.length ? { latencyP50Ms: p50s[Math.floor(p50s.length / 2)]!, latencyP99Ms: Math.max(...p99s) } : {}),
  };
}

/** Checks and warms every target, then measures them in interleaved rounds. Keyed by target index. */
export async function measureInterleaved(targets: Target[], up: Upstream, o: LoadOptions): Promise<MeasuredLoad[]> {
  const wrk = (t: Target, durationSec: number) => runWrk({ url: t.url, headers: t.headers, durationSec, connections: o.connections, threads: o.threads });
  const caches: (string | undefined)[] = [];
  for (const t of targets) {
    await check(t);
    if (o.warmupSec > 0) await wrk(t, Math.max(1, Math.round(o.warmupSec)));
    caches.push(await check(t));
  }
  const acc = targets.map(() => ({ rounds: [] as LoadResult[], upstream: 0, cpu: 0 }));
  // wrk takes whole seconds only.
  const slice = Math.max(1, Math.round(o.durationSec / o.rounds));
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (r + k) % targets.length;
      const t = targets[i]!;
      const lines = (await up.dist.accessLog()).length;
      const cpu = cpuSeconds(t.peer.pid);
      acc[i]!.rounds.push(await wrk(t, slice));
      acc[i]!.cpu += cpuSeconds(t.peer.pid) - cpu;
      acc[i]!.upstream += (await up.dist.accessLog()).length - lines;
    }
  }
  return acc.map((a, i) => ({
    ...combine(a.rounds), upstreamRequests: a.upstream, serverCpuSec: a.cpu, rounds: a.rounds,
    ...(caches[i] !== undefined ? { cache: caches[i] } : {}),
  }));
}

export async function warmManifests(peers: Peer[], up: Upstream, o: LoadOptions): Promise<{ byTag: Record<string, MeasuredLoad>; byDigest: Record<string, MeasuredLoad> }> {
  const headers = { accept: MANIFEST_ACCEPT };
  const d = up.image.manifestDigest;
  const targets: Target[] = peers.flatMap((peer) => [
    { peer, url: `${peer.url}/v2/${up.name}/manifests/${up.tag}`, headers, digest: d },
    { peer, url: `${peer.url}/v2/${up.name}/manifests/${d}`, headers, digest: d },
  ]);
  const res = await measureInterleaved(targets, up, o);
  const byTag: Record<string, MeasuredLoad> = {};
  const byDigest: Record<string, MeasuredLoad> = {};
  peers.forEach((p, i) => { byTag[p.name] = res[2 * i]!; byDigest[p.name] = res[2 * i + 1]!; });
  return { byTag, byDigest };
}
