// Scenario: manifest requests per second once the image is cached, by tag and by digest, at a fixed
// duration and connection count (wrk). Each peer is first checked to answer with the right digest.
import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Peer, Upstream } from './lib/peers.js';
import { MANIFEST_ACCEPT } from './lib/pull.js';
import { runWrk, type LoadResult } from './lib/wrk.js';

export interface LoadOptions {
  durationSec: number;
  /** Unmeasured run first, so JIT, caches and connection pools are warm for every peer alike. */
  warmupSec: number;
  connections: number;
  threads: number;
}

export interface MeasuredLoad extends LoadResult {
  /** Requests the upstream received while this peer was measured (0 = served from cache alone). */
  upstreamRequests: number;
  /** regway's x-regway-cache answer to the check request, when the peer sends one. */
  cache?: string;
}

/**
 * One GET that must return the expected content: the body is hashed (nginx sends no
 * Docker-Content-Digest, and a header alone proves nothing about the bytes). Returns the cache header.
 */
async function check(url: string, headers: Record<string, string>, digest: string): Promise<string | undefined> {
  const r = await request(url, { headers });
  const h = createHash('sha256');
  for await (const chunk of r.body) h.update(chunk as Buffer);
  const got = `sha256:${h.digest('hex')}`;
  if (r.statusCode !== 200 || got !== digest) throw new Error(`${url}: HTTP ${r.statusCode}, body digest ${got}, want ${digest}`);
  const c = r.headers['x-regway-cache'];
  return typeof c === 'string' ? c : undefined;
}

/** Measures GET url on a warm peer: check, warm-up, then the measured run. */
export async function measure(url: string, headers: Record<string, string>, digest: string, up: Upstream, o: LoadOptions): Promise<MeasuredLoad> {
  await check(url, headers, digest);
  if (o.warmupSec > 0) await runWrk({ url, headers, durationSec: o.warmupSec, connections: o.connections, threads: o.threads });
  const cache = await check(url, headers, digest);
  const before = (await up.dist.accessLog()).length;
  const r = await runWrk({ url, headers, durationSec: o.durationSec, connections: o.connections, threads: o.threads });
  const upstreamRequests = (await up.dist.accessLog()).length - before;
  return { ...r, upstreamRequests, ...(cache !== undefined ? { cache } : {}) };
}

export async function warmManifests(peers: Peer[], up: Upstream, o: LoadOptions): Promise<{ byTag: Record<string, MeasuredLoad>; byDigest: Record<string, MeasuredLoad> }> {
  const headers = { accept: MANIFEST_ACCEPT };
  const byTag: Record<string, MeasuredLoad> = {};
  const byDigest: Record<string, MeasuredLoad> = {};
  for (const p of peers) {
    byTag[p.name] = await measure(`${p.url}/v2/${up.name}/manifests/${up.tag}`, headers, up.image.manifestDigest, up, o);
    byDigest[p.name] = await measure(`${p.url}/v2/${up.name}/manifests/${up.image.manifestDigest}`, headers, up.image.manifestDigest, up, o);
  }
  return { byTag, byDigest };
}
