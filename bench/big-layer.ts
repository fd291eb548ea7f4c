// Scenario (flag-selected: --big-layer-mb): a single layer of GBs, pulled cold by N clients at
// once through a fresh regway. What it proves is not speed but shape: the upstream sends the layer
// once, and regway's memory stays what it is for small layers (nothing is held whole).
import { pushBigBlob, readBlob } from '../test/helpers/big-blob.js';
import { startRegway, type Upstream } from './lib/peers.js';
import { RssSampler } from './lib/rss.js';
import { upstreamTraffic } from './cold-pull.js';
import type { RssSummary } from './lib/table.js';

export interface BigLayer {
  layerBytes: number;
  clients: number;
  wallMs: number;
  upstreamBlobBytes: number;
  /** Bytes every client received and verified against the digest. */
  clientBytes: number;
  rss: RssSummary;
}

const NAME = 'bench/big';

export async function bigLayer(up: Upstream, layerBytes: number, clients: number, bin?: string): Promise<BigLayer> {
  const blob = await pushBigBlob(up.dist.url, NAME, layerBytes);
  const regway = await startRegway(up.dist, { bin });
  try {
    const rss = new RssSampler(regway.pid).start();
    const before = (await up.dist.accessLog()).length;
    const t0 = performance.now();
    const got = await Promise.all(Array.from({ length: clients }, () => readBlob(`${regway.url}/v2/${NAME}/blobs/${blob.digest}`)));
    const wallMs = performance.now() - t0;
    const summary = rss.stop();
    const clientBytes = got.filter((g) => g.digest === blob.digest).reduce((a, g) => a + g.bytes, 0);
    // distribution logs a response when it ends, just after the last byte: give it a moment.
    let traffic = upstreamTraffic((await up.dist.accessLog()).slice(before), NAME);
    for (let i = 0; i < 20 && traffic.blobBytes < layerBytes; i++) {
      await new Promise((r) => setTimeout(r, 100));
      traffic = upstreamTraffic((await up.dist.accessLog()).slice(before), NAME);
    }
    return { layerBytes, clients, wallMs, upstreamBlobBytes: traffic.blobBytes, clientBytes, rss: summary };
  } finally { await regway.stop(); }
}
