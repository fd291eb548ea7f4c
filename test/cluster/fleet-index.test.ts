// The fleet's shared index on a real Ceph RGW and a real Redis (#16): an instance joining a bucket of
// thousands of objects serves at once without listing the bucket (every S3 request it makes is
// counted by a proxy in front of RGW), its catalog comes from Redis; after FLUSHALL the leader
// rebuilds from the bucket while the fleet serves; with a size cap, one leader evicts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { startCeph, type Ceph } from '../helpers/ceph.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';
import { applyOverrides } from '../../src/config/load.js';
import { createGateway, fleetKeyPrefix, type Gateway } from '../../src/server/gateway.js';
import { silentLogger } from '../../src/obs/logger.js';

const REG = 'registry.fleet.test';
const FILL = Number(process.env.FLEET_INDEX_OBJECTS ?? 3000);

interface S3Call { method: string; url: string }

/** A plain HTTP proxy in front of RGW that remembers every request (SigV4 signs the path and Host, both kept). */
async function countingProxy(target: string): Promise<{ url: string; calls: S3Call[]; close(): Promise<void> }> {
  const t = new URL(target);
  const calls: S3Call[] = [];
  const server: Server = createServer((req, res) => {
    calls.push({ method: req.method!, url: req.url! });
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** ListObjectsV2 calls, with whether each walks (more than the one-key start-up check). */
function lists(calls: S3Call[]): { prefix: string; walk: boolean }[] {
  return calls.filter((c) => c.method === 'GET' && /[?&]list-type=2/.test(c.url)).map((c) => {
    const q = new URL(c.url, 'http://x').searchParams;
    return { prefix: q.get('prefix') ?? '', walk: q.get('max-keys') !== '1' };
  });
}

interface Running { gw: Gateway; url: string; dir: string }

// Bigger buckets (FLEET_INDEX_OBJECTS=300000 for the proof) take longer to fill and to rebuild.
describe('the fleet\'s shared index on Ceph RGW and Redis', { timeout: Math.max(600_000, FILL * 5) }, () => {
  let ceph: Ceph;
  let redis: RedisServer;
  let up: Distribution;
  let img: PushedImage;
  let admin: Redis;
  const running: Running[] = [];

  before(async () => {
    [ceph, redis, up] = await Promise.all([startCeph(), startRedis(), startDistribution()]);
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 64 * 1024 });
    admin = new Redis(redis.url);
  });
  after(async () => {
    for (const r of running) { await r.gw.close().catch(() => {}); removeTempDir(r.dir); }
    admin?.disconnect();
    await up?.stop(); await redis?.stop(); await ceph?.stop();
  });

  function config(bucket: string, port: number, id: string, endpoint = ceph.endpoint, maxSize = '0') {
    return applyOverrides({
      listen: `127.0.0.1:${port}`,
      storage: { driver: 's3', path: makeTempDir('fleetidx'), maxSize, s3: { bucket, endpoint, region: ceph.region, prefix: 'regway', accessKeyId: ceph.accessKey, secretAccessKey: { env: 'REGWAY_TEST_S3_SECRET' } } },
      registries: { [REG]: { upstreams: [{ url: up.url }] } },
      cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, peerToken: 'fleet-index-secret-0123456789', instanceId: id, leaseTtl: '3s' },
      log: { level: 'silent' },
    }, {});
  }

  async function start(bucket: string, id: string, endpoint?: string, maxSize?: string): Promise<Running & { ms: number }> {
    process.env.REGWAY_TEST_S3_SECRET = ceph.secretKey;
    const port = await freePort();
    const c = config(bucket, port, id, endpoint, maxSize);
    const t0 = performance.now();
    const gw = await createGateway(c, silentLogger());
    await gw.app.listen({ host: '127.0.0.1', port });
    const ms = performance.now() - t0;
    const r = { gw, url: `http://127.0.0.1:${port}`, dir: c.storage.path, ms };
    running.push(r);
    return r;
  }

  async function pull(url: string, image: PushedImage, repo = 'team/app', tag = 'v1'): Promise<void> {
    const m = await request(`${url}/v2/${REG}/${repo}/manifests/${tag}`, { headers: { accept: image.mediaType } });
    assert.equal(m.statusCode, 200, `manifest through ${url}`);
    await m.body.dump();
    for (const b of [image.config, ...image.layers]) {
      const r = await request(`${url}/v2/${REG}/${repo}/blobs/${b.digest}`);
      assert.equal(r.statusCode, 200);
      const h = createHash('sha256');
      for await (const c of r.body) h.update(c as Buffer);
      assert.equal(`sha256:${h.digest('hex')}`, b.digest);
    }
  }

  async function catalog(url: string): Promise<string[]> {
    const r = await request(`${url}/v2/_catalog?n=1000`);
    assert.equal(r.statusCode, 200);
    return ((await r.body.json()) as { repositories: string[] }).repositories;
  }

  /** `n` blobs in the real layout, straight into the bucket (what other instances cached long ago). */
  async function fill(bucket: string, n: number): Promise<void> {
    const s3 = ceph.client();
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const body = randomBytes(256);
        const hex = createHash('sha256').update(body).digest('hex');
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `regway/blobs/sha256/${hex.slice(0, 2)}/${hex}`, Body: body }));
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    s3.destroy();
  }

  async function objectCount(bucket: string, prefix = 'regway/'): Promise<number> {
    const s3 = ceph.client();
    let n = 0;
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
      n += page.KeyCount ?? 0;
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    s3.destroy();
    return n;
  }

  it(`a 4th instance joining a bucket of ${FILL}+ objects serves at once, lists nothing, and its catalog comes from Redis; after FLUSHALL the leader rebuilds`, async () => {
    const bucket = await ceph.createBucket('fleetidx');
    const [a] = [await start(bucket, 'a')];
    await pull(a.url, img);
    await start(bucket, 'b'); await start(bucket, 'c');
    await fill(bucket, FILL);
    const objects = await objectCount(bucket);
    assert.ok(objects >= FILL);

    const proxy = await countingProxy(ceph.endpoint);
    try {
      const d = await start(bucket, 'd', proxy.url);
      const startupLists = lists(proxy.calls);
      await pull(d.url, img);
      assert.deepEqual(await catalog(d.url), [`${REG}/team/app`]);
      const walks = lists(proxy.calls).filter((l) => l.walk);
      console.log(`# joining instance: ready in ${d.ms.toFixed(0)} ms over a bucket of ${objects} objects; S3 requests ${proxy.calls.length}, ListObjectsV2 at start ${startupLists.length} (${JSON.stringify(startupLists)}), walks after a pull and a catalog ${walks.length}`);
      assert.ok(d.ms < 2000, `joined in ${d.ms.toFixed(0)} ms`);
      assert.deepEqual(walks, [], 'no listing of the bucket (only the one-key start-up check)');
      assert.equal(d.gw.cacheIndex.keeper.progress.phase, 'ready');

      // Redis loses everything: the catalog falls back to the bucket (answers the same), the lease holder rebuilds.
      const prefix = fleetKeyPrefix(config(bucket, 1, 'x'));
      await admin.flushall();
      assert.deepEqual(await catalog(a.url), [`${REG}/team/app`], 'served while the index is gone');
      const t0 = Date.now();
      await waitFor(async () => (await admin.get(`${prefix}idx:complete`)) !== null, 'the leader to rebuild the shared index', Math.max(120_000, FILL * 2));
      console.log(`# after FLUSHALL: rebuilt from ${objects} objects in ${Date.now() - t0} ms (by whichever instance led)`);
      const before = proxy.calls.length;
      await waitFor(() => d.gw.cacheIndex.keeper.progress.phase === 'ready' && d.gw.cacheIndex.status().phase === 'ready', 'd to see the marker', 10_000);
      assert.deepEqual(await catalog(d.url), [`${REG}/team/app`]);
      assert.deepEqual(lists(proxy.calls.slice(before)), [], 'd reads the catalog from Redis again');
      const blobs = Number(await admin.hget(`${prefix}idx:totals`, 'blobs'));
      assert.ok(blobs >= FILL + 3, `the rebuilt index holds ${blobs} blobs`);
    } finally { await proxy.close(); }
  });

  it('two instances with a small cap: only the lease holder evicts, down to 90% of the cap', async () => {
    const bucket = await ceph.createBucket('fleetevict');
    const big = await pushImage(up.url, 'team/evict', 'v1', { layers: 6, layerSize: 100 * 1024 });
    const e = await start(bucket, 'e', undefined, '300KiB');
    const f = await start(bucket, 'f', undefined, '300KiB');
    // Blobs alternately through each instance: both commit, both ask to evict.
    const m = await request(`${e.url}/v2/${REG}/team/evict/manifests/v1`, { headers: { accept: big.mediaType } });
    assert.equal(m.statusCode, 200); await m.body.dump();
    for (const [i, b] of [big.config, ...big.layers].entries()) {
      const r = await request(`${(i % 2 ? f : e).url}/v2/${REG}/team/evict/blobs/${b.digest}`);
      assert.equal(r.statusCode, 200); await r.body.dump();
    }
    await waitFor(() => e.gw.index.evictions + f.gw.index.evictions > 0, 'an eviction', 20_000);
    await waitFor(async () => { await e.gw.index.flush(); return e.gw.index.size <= 300 * 1024; }, 'the fleet under its cap', 20_000);
    const evictors = [e, f].filter((g) => g.gw.index.evictions > 0);
    console.log(`# eviction: e evicted ${e.gw.index.evictions}, f evicted ${f.gw.index.evictions}; fleet total ${e.gw.index.size} bytes; blobs left in the bucket ${await objectCount(bucket, 'regway/blobs/')}`);
    assert.equal(evictors.length, 1, 'one leader evicts');
    assert.ok(e.gw.index.size <= 0.9 * 300 * 1024 + 1);
  });
});
