// Two gateways sharing a store and a real Redis: tag freshness and blob downloads are shared, and
// losing Redis never fails a pull. (The three-process, S3 and kill scenarios are in fleet.test.ts.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage, sha256 as sha } from '../helpers/images.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { applyOverrides } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { silentLogger } from '../../src/obs/logger.js';
import { waitFor } from '../helpers/wait.js';

const REG = 'registry.coord.test';

describe('fleet coordination through Redis', () => {
  let redis: RedisServer;
  let up: Distribution;
  let slow: Nginx;
  let img: PushedImage;
  let storage: string;
  const gws: { gw: Gateway; url: string }[] = [];

  before(async () => {
    [redis, up] = await Promise.all([startRedis(), startDistribution()]);
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 6 * 1024 * 1024 });
    slow = await startNginx(`location / { proxy_pass ${up.url}; proxy_buffering on; limit_rate 3m; }`);
    storage = mkdtempSync(join(tmpdir(), 'regway-shared-'));
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const config = applyOverrides({
        listen: `127.0.0.1:${port}`, storage: { path: storage },
        registries: { [REG]: { upstreams: [{ url: slow.url }] } },
        cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, peerToken: 'test-peer-token-0123456789', instanceId: `g${i}`, leaseTtl: '2s' },
      }, {});
      const gw = await createGateway(config, silentLogger());
      await gw.app.listen({ host: '127.0.0.1', port });
      gws.push({ gw, url: `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}` });
    }
    await waitFor(() => gws.every((g) => g.gw.coordinator.healthy()), 'both instances connected to Redis', 10_000);
  });
  after(async () => {
    for (const g of gws) await g.gw.close();
    await slow?.stop(); await up?.stop(); await redis?.stop();
    if (storage) rmSync(storage, { recursive: true, force: true });
  });

  it('a blob both instances miss at once is fetched from the upstream once; the second streams it from the first', async () => {
    const layer = img.layers[0]!;
    let receivedA = 0;
    const get = async (base: string, count = false) => {
      const r = await request(`${base}/v2/${REG}/team/app/blobs/${layer.digest}`);
      const h = createHash('sha256');
      for await (const c of r.body) { h.update(c as Buffer); if (count) receivedA += (c as Buffer).length; }
      return `sha256:${h.digest('hex')}`;
    };
    const a = get(gws[0]!.url, true);
    await waitFor(() => receivedA > 0, 'the first bytes from g0 (it owns the fetch then)', 10_000);
    const b = get(gws[1]!.url);
    assert.deepEqual(await Promise.all([a, b]), [layer.digest, layer.digest]);
    const gets = (await up.accessLog()).filter((l) => l.method === 'GET' && l.path.endsWith(layer.digest));
    assert.equal(gets.length, 1, `upstream GETs of the layer: ${gets.length}`);
  });

  it('a tag one instance revalidated is fresh for the other: the fleet asks the upstream once', async () => {
    const before = (await up.accessLog()).filter((l) => l.path.endsWith('/manifests/v1')).length;
    for (const g of gws) {
      const r = await request(`${g.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
      assert.equal(sha(Buffer.from(await r.body.arrayBuffer())), img.manifestDigest);
    }
    const after = (await up.accessLog()).filter((l) => l.path.endsWith('/manifests/v1')).length;
    assert.equal(after - before, 1);
  });

  it('with Redis gone, both instances keep serving (degraded, alone)', async () => {
    redis.kill();
    await waitFor(() => gws.every((g) => !g.gw.coordinator.healthy()), 'both instances to see Redis gone', 5_000).catch(() => {});
    assert.ok(gws.every((g) => !g.gw.coordinator.healthy()), 'degraded is visible');
    const more = await pushImage(up.url, 'team/app', 'v2', { layers: 1, layerSize: 100_000 });
    for (const g of gws) {
      const r = await request(`${g.url}/v2/${REG}/team/app/manifests/v2`, { headers: { accept: more.mediaType } });
      assert.equal(r.statusCode, 200);
      assert.equal(sha(Buffer.from(await r.body.arrayBuffer())), more.manifestDigest);
      const b = await request(`${g.url}/v2/${REG}/team/app/blobs/${more.layers[0]!.digest}`);
      assert.equal(sha(Buffer.from(await b.body.arrayBuffer())), more.layers[0]!.digest);
    }
  });
});
