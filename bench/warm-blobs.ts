// Scenario: concurrent clients downloading the largest layer over and over once it is cached,
// bytes/s for regway, distribution's proxy and nginx (the same file served with sendfile).
import type { Peer, Upstream } from './lib/peers.js';
import { measureInterleaved, type LoadOptions, type MeasuredLoad } from './warm-manifests.js';

export function largestLayer(up: Upstream): { digest: string; size: number } {
  return up.image.layers.reduce((a, b) => (b.size > a.size ? b : a));
}

export async function warmBlobs(peers: Peer[], up: Upstream, o: LoadOptions): Promise<Record<string, MeasuredLoad>> {
  const layer = largestLayer(up);
  const res = await measureInterleaved(peers.map((peer) => ({ peer, url: `${peer.url}/v2/${up.name}/blobs/${layer.digest}`, headers: {}, digest: layer.digest })), up, o);
  const out: Record<string, MeasuredLoad> = {};
  peers.forEach((p, i) => {
    const r = res[i]!;
    // Fewer bytes than whole blobs for the completed requests would mean bodies were cut short.
    if (r.requests > 0 && r.bytes / r.requests < layer.size) {
      throw new Error(`${p.name}: ${r.bytes} bytes for ${r.requests} requests of a ${layer.size}-byte blob: bodies were cut short`);
    }
    out[p.name] = r;
  });
  return out;
}
