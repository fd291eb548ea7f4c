// Large layers, cold, several clients at once, through regway as its own process (so its memory is
// its own): one upstream download whatever the size, memory that does not grow with the layer
// (nothing is buffered whole), and a slow client that holds back neither the download nor the others.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { pushBigBlob, readBlob, peakRss, type BigBlob } from '../helpers/big-blob.js';

const MiB = 1024 * 1024;
const NAME = 'team/big';

describe('large cold layers', () => {
  let up: Distribution;
  let gw: Instance;
  let small: BigBlob;
  let large: BigBlob;
  let paced: BigBlob;

  before(async () => {
    up = await startDistribution();
    [small, large, paced] = await Promise.all([pushBigBlob(up.url, NAME, 64 * MiB), pushBigBlob(up.url, NAME, 512 * MiB), pushBigBlob(up.url, NAME, 64 * MiB)]);
    gw = await startInstance({ defaultRegistry: up.host, registries: { [up.host]: { upstreams: [{ url: up.url }] } }, log: { level: 'warn' } });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  const url = (b: BigBlob) => `${gw.url}/v2/${NAME}/blobs/${b.digest}`;

  /** Upstream bytes sent for blob GETs of `b` (the upstream's own access log). */
  async function upstreamBytes(b: BigBlob): Promise<number> {
    const lines = await up.accessLog();
    return lines.filter((l) => l.method === 'GET' && l.path === `/v2/${NAME}/blobs/${b.digest}`).reduce((a, l) => a + l.bytes, 0);
  }

  async function coldPull(b: BigBlob, clients: number): Promise<void> {
    const got = await Promise.all(Array.from({ length: clients }, () => readBlob(url(b))));
    for (const g of got) assert.deepEqual([g.bytes, g.digest], [b.size, b.digest], 'every client gets the exact blob');
  }

  it('5 clients on a cold 512 MiB layer: one upstream download, and peak memory as for a 64 MiB one', async () => {
    await coldPull(small, 5);
    const afterSmall = peakRss(gw.pid);
    await coldPull(large, 5);
    const afterLarge = peakRss(gw.pid);
    assert.equal(await upstreamBytes(large), large.size, 'the upstream sent the layer once');
    // 8x the bytes: a buffer that grew with the layer would add hundreds of MB. What may differ is
    // GC slack and allocator noise, a few MB.
    const growth = afterLarge - afterSmall;
    assert.ok(growth < 40 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB from the 64 MiB layer (${(afterSmall / MiB).toFixed(0)} MiB) to the 512 MiB one`);
  });

  it('a client reading 10x slower than the others slows neither them nor the download', async () => {
    let fastDone = false;
    let slowBytes = 0;
    const t0 = performance.now();
    // Paced at 8 MB/s (the others read at 100+ MB/s here) until the fast clients are done, then at full speed.
    const slow = readBlob(url(paced), async (n) => {
      slowBytes = n;
      if (fastDone) return;
      const due = n / 8e3 - (performance.now() - t0);
      // the time is the subject: this pause is what makes the client slow
      if (due > 0) await new Promise((r) => setTimeout(r, due));
    });
    const fast = await Promise.all([1, 2, 3].map(() => readBlob(url(paced))));
    fastDone = true;
    const slowAtFastDone = slowBytes;
    for (const f of fast) assert.deepEqual([f.bytes, f.digest], [paced.size, paced.digest], 'every fast client gets the exact blob');
    // Tied to the slow client, they could not finish before it had read everything but the held-back last byte.
    assert.ok(slowAtFastDone < paced.size / 2, `the fast clients finished when the slow one had read ${(100 * slowAtFastDone / paced.size).toFixed(0)} %`);
    const s = await slow;
    assert.deepEqual([s.bytes, s.digest], [paced.size, paced.digest], 'the slow client gets the exact blob too, from the spool or the store');
    assert.equal(await upstreamBytes(paced), paced.size, 'one upstream download, finished without waiting for the slow client');
  });
});
