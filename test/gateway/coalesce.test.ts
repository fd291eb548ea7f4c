// One upstream fetch per blob, however many clients ask at once: proven by the upstream's own
// access log (a real distribution), with every client's bytes checked against the digest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

async function digestOfBody(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await request(url, { headers });
  assert.equal(r.statusCode, 200, url);
  const h = createHash('sha256');
  for await (const c of r.body) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe('concurrent cold pulls', () => {
  let up: Distribution;
  let gw: TestGateway;
  let img: PushedImage;

  before(async () => {
    up = await startDistribution();
    img = await pushImage(up.url, 'team/big', 'v1', { layers: 3, layerSize: 8 * 1024 * 1024 });
    gw = await startGateway({ registries: { [up.host]: [up.url] } });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  it('20 clients pulling the same cold image cause one upstream GET per blob and all get exact bytes', async () => {
    const q = `ns=${up.host}`;
    const clients = Array.from({ length: 20 }, async (_, i) => {
      // Stagger a little so later clients join fetches already under way (read from disk, then follow live).
      // the time is the subject: clients arrive spread over 300 ms, at every stage of the fetches
      await new Promise((r) => setTimeout(r, i * 15));
      const m = await request(`${gw.url}/v2/team/big/manifests/v1?${q}`, { headers: { accept: img.mediaType } });
      assert.equal(m.statusCode, 200);
      await m.body.dump();
      const digests = await Promise.all([img.config, ...img.layers].map((b) => digestOfBody(`${gw.url}/v2/team/big/blobs/${b.digest}?${q}`)));
      assert.deepEqual(digests, [img.config.digest, ...img.layers.map((l) => l.digest)]);
    });
    await Promise.all(clients);
    const log = await up.accessLog();
    for (const b of [img.config, ...img.layers]) {
      const gets = log.filter((l) => l.method === 'GET' && l.path === `/v2/team/big/blobs/${b.digest}`);
      assert.equal(gets.length, 1, `blob ${b.digest} fetched ${gets.length} times from the upstream`);
    }
    const manifestGets = log.filter((l) => l.method === 'GET' && l.path === '/v2/team/big/manifests/v1');
    assert.equal(manifestGets.length, 1, 'concurrent tag lookups share one upstream request');
  });
});
