// Scenario: one client, cold cache, each layer fetched once through a gateway that has never seen
// it, interleaved with a read of the same blob straight from the upstream (the physical limit on
// this machine). Measures throughput and time to the first body byte. Fresh gateways are started
// for it, so the cold-pull scenario's cache does not make these hits.
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import type { Peer, Upstream } from './lib/peers.js';

export interface SingleFetch { bytes: number; ms: number; ttfbMs: number }
/** Per peer: one fetch per layer, in layer order. */
export type ColdSingle = Record<string, SingleFetch[]>;

async function fetchOnce(agent: Agent, url: string, digest: string): Promise<SingleFetch> {
  const t0 = performance.now();
  const r = await request(url, { dispatcher: agent });
  if (r.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${r.statusCode} ${(await r.body.text()).slice(0, 200)}`);
  const h = createHash('sha256');
  let bytes = 0;
  let ttfbMs = -1;
  for await (const c of r.body) {
    if (ttfbMs < 0) ttfbMs = performance.now() - t0;
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  const ms = performance.now() - t0;
  if (`sha256:${h.digest('hex')}` !== digest) throw new Error(`GET ${url}: wrong bytes`);
  return { bytes, ms, ttfbMs };
}

/**
 * `direct` is the upstream itself; every other peer must have an empty cache. Layers go in turn:
 * direct, then each peer, so noise on the machine hits every column alike.
 */
export async function coldSingle(up: Upstream, peers: Peer[]): Promise<ColdSingle> {
  const agent = new Agent({ connections: 1, bodyTimeout: 120_000, headersTimeout: 120_000 });
  const out: ColdSingle = { direct: [] };
  for (const p of peers) out[p.name] = [];
  try {
    for (const l of up.image.layers) {
      out.direct!.push(await fetchOnce(agent, `${up.dist.url}/v2/${up.name}/blobs/${l.digest}`, l.digest));
      for (const p of peers) out[p.name]!.push(await fetchOnce(agent, `${p.url}/v2/${up.name}/blobs/${l.digest}`, l.digest));
    }
  } finally { await agent.close(); }
  return out;
}

/** Total bytes / total time over the layers (MB/s), and the median time to first byte (ms). */
export function summarizeSingle(fs: SingleFetch[]): { mbPerSec: number; ttfbMs: number } {
  const bytes = fs.reduce((a, f) => a + f.bytes, 0);
  const ms = fs.reduce((a, f) => a + f.ms, 0);
  const t = fs.map((f) => f.ttfbMs).sort((a, b) => a - b);
  return { mbPerSec: ms > 0 ? bytes / 1e6 / (ms / 1000) : 0, ttfbMs: t.length ? t[Math.floor(t.length / 2)]! : 0 };
}
