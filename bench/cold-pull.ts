// Scenario: N clients pull the same image at the same moment from a gateway with an empty cache.
// Measures wall time and upstream amplification (blob bytes the upstream sent / image blob bytes),
// read from the upstream distribution's own access log.
import type { AccessLine } from '../test/helpers/distribution.js';
import type { Peer, Upstream } from './lib/peers.js';
import { pullImage } from './lib/pull.js';
import type { ColdPull } from './lib/table.js';

/** Waits until the access log stops growing: distribution writes a line when a response ends. */
async function settledLog(up: Upstream, quietMs = 600, maxMs = 20_000): Promise<AccessLine[]> {
  const deadline = Date.now() + maxMs;
  let lines = await up.dist.accessLog();
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 150));
    const next = await up.dist.accessLog();
    if (next.length !== lines.length) { lines = next; stableSince = Date.now(); continue; }
    if (Date.now() - stableSince >= quietMs) break;
  }
  return lines;
}

/** Upstream traffic in a slice of its access log (pure). */
export function upstreamTraffic(lines: AccessLine[], name: string): { blobBytes: number; blobGets: number; manifestGets: number } {
  let blobBytes = 0;
  let blobGets = 0;
  let manifestGets = 0;
  for (const l of lines) {
    if (l.method !== 'GET') continue;
    if (l.path.startsWith(`/v2/${name}/blobs/sha256:`)) { blobBytes += l.bytes; blobGets++; }
    else if (l.path.startsWith(`/v2/${name}/manifests/`)) manifestGets++;
  }
  return { blobBytes, blobGets, manifestGets };
}

export async function coldPull(peer: Peer, up: Upstream, clients: number, parallel: number): Promise<ColdPull> {
  const before = (await settledLog(up)).length;
  const imageBlobBytes = up.image.config.size + up.image.layers.reduce((a, l) => a + l.size, 0);
  const t0 = process.hrtime.bigint();
  const pulls = await Promise.all(Array.from({ length: clients }, () => pullImage(peer.url, up.name, up.tag, parallel)));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const traffic = upstreamTraffic((await settledLog(up)).slice(before), up.name);
  return {
    clients, wallMs, imageBlobBytes,
    upstreamBlobBytes: traffic.blobBytes,
    upstreamBlobGets: traffic.blobGets,
    upstreamManifestGets: traffic.manifestGets,
    clientBytes: pulls.reduce((a, p) => a + p.bytes, 0),
    clientErrors: pulls.flatMap((p) => p.errors),
  };
}
