// Three regway instances on one S3 bucket (a real Ceph RGW), coordinated through a real Redis,
// behind a real nginx round-robin load balancer: they behave as one cache.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ListMultipartUploadsCommand, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { request, Agent } from 'undici';
import { startCeph, type Ceph } from '../helpers/ceph.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const MB = 1024 * 1024;
const REG = 'registry.fleet.test';
const IMAGE_MB = Number(process.env.FLEET_IMAGE_MB ?? 200);
const CLIENTS = Number(process.env.FLEET_CLIENTS ?? 30);
const agent = new Agent({ connections: 256, bodyTimeout: 120_000, headersTimeout: 120_000 });

/**
 * A client that pulls every blob and retries (with Range from what it has) when a connection dies.
 * `progress.bytes` counts what it received, for tests that act in the middle of the pulls.
 */
async function pullAll(lb: string, img: PushedImage, progress: { bytes: number } = { bytes: 0 }): Promise<void> {
  for (const b of [img.config, ...img.layers]) {
    const h = createHash('sha256');
    let got = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await request(`${lb}/v2/${REG}/team/big/blobs/${b.digest}`, { dispatcher: agent, headers: got > 0 ? { range: `bytes=${got}-` } : {} });
        if (r.statusCode !== 200 && r.statusCode !== 206) throw new Error(`status ${r.statusCode}`);
        for await (const c of r.body) { h.update(c as Buffer); got += (c as Buffer).length; progress.bytes += (c as Buffer).length; }
        if (got !== b.size) throw new Error(`short: ${got}/${b.size}`);
        break;
      } catch (e) {
        if (attempt >= 4) throw new Error(`blob ${b.digest} failed after retries: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200)); // the time is the subject: a client's pause before it retries
      }
    }
    assert.equal(`sha256:${h.digest('hex')}`, b.digest);
  }
}

describe('a fleet of three instances on shared S3 storage with Redis coordination', { timeout: 900_000 }, () => {
  let ceph: Ceph;
  let redis: RedisServer;
  let up: Distribution;
  let img: PushedImage;

  before(async () => {
    [ceph, redis, up] = await Promise.all([startCeph(), startRedis(), startDistribution()]);
    img = await pushImage(up.url, 'team/big', 'v1', { layers: 5, layerSize: (IMAGE_MB / 5) * MB });
  });
  after(async () => { await up?.stop(); await redis?.stop(); await ceph?.stop(); });

  async function fleet(bucket: string): Promise<{ instances: Instance[]; lb: Nginx }> {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const config = (port: number, i: number) => ({
      storage: { driver: 's3', s3: { bucket, endpoint: ceph.endpoint, region: ceph.region, prefix: 'regway', accessKeyId: ceph.accessKey, secretAccessKey: { env: 'S3_SECRET' } } },
      registries: { [REG]: { upstreams: [{ url: up.url }] } },
      cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, peerToken: { env: 'PEER_TOKEN' }, leaseTtl: '3s', instanceId: `i${i}` },
      log: { level: 'info' },
    });
    const env = { S3_SECRET: ceph.secretKey, PEER_TOKEN: 'fleet-secret-0123456789' };
    const instances = await Promise.all(ports.map((p, i) => startInstance(config(p, i), env, p)));
    // Round robin; a dead instance's connect errors are retried on the next (before any byte is sent).
    const lb = await startNginx('location / { proxy_pass http://fleet; proxy_next_upstream error timeout http_502; proxy_read_timeout 120s; }', {
      httpExtra: `upstream fleet { ${ports.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join(' ')} }`,
    });
    return { instances, lb };
  }

  const upstreamBlobGets = async () => (await up.accessLog()).filter((l) => l.method === 'GET' && l.path.startsWith('/v2/team/big/blobs/'));

  it(`${CLIENTS} concurrent cold clients through 3 instances: the upstream serves each blob once, every client gets exact bytes`, async () => {
    const bucket = await ceph.createBucket('fleet');
    const { instances, lb } = await fleet(bucket);
    try {
      const before = (await upstreamBlobGets()).length;
      await Promise.all(Array.from({ length: CLIENTS }, () => pullAll(lb.url, img)));
      const gets = (await upstreamBlobGets()).slice(before);
      for (const b of [img.config, ...img.layers]) {
        const n = gets.filter((g) => g.path.endsWith(b.digest)).length;
        assert.equal(n, 1, `blob ${b.digest.slice(0, 19)} fetched ${n} times from the upstream across the fleet`);
      }
      // The load balancer spread clients over the fleet, and instances streamed from each other.
      const { readFileSync } = await import('node:fs');
      const peerStreams = instances.map((i) => (readFileSync(i.logFile, 'utf8').match(/streaming a blob from the instance/g) ?? []).length);
      assert.ok(peerStreams.filter((n) => n > 0).length >= 2, `peer streaming per instance: ${peerStreams}`);
    } finally { await lb.stop(); await Promise.all(instances.map((i) => i.stop())); }
  });

  it('an instance killed in the middle: every client completes, no partial object in the bucket; then Redis killed: pulls keep succeeding', async () => {
    const bucket = await ceph.createBucket('fleetkill');
    const { instances, lb } = await fleet(bucket);
    try {
      const before = (await upstreamBlobGets()).length;
      const progress = { bytes: 0 };
      const pulls = Promise.all(Array.from({ length: CLIENTS }, () => pullAll(lb.url, img, progress)));
      // Kill an instance in the middle: once the clients have a quarter of their bytes.
      const imageBytes = [img.config, ...img.layers].reduce((n, b) => n + b.size, 0);
      await waitFor(() => progress.bytes >= (CLIENTS * imageBytes) / 4, 'a quarter of the pulled bytes', 300_000, { seen: () => `${progress.bytes} of ${CLIENTS * imageBytes} bytes` });
      instances[0]!.kill();
      await pulls;
      const gets = (await upstreamBlobGets()).slice(before);
      const bytes = gets.reduce((n, g) => n + g.bytes, 0);
      assert.ok(bytes / imageBytes < 2, `upstream amplification with a killed instance: ${(bytes / imageBytes).toFixed(2)}x`);
      const s3 = ceph.client();
      const objs = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'regway/blobs/' }));
      for (const o of objs.Contents ?? []) {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        const h = createHash('sha256');
        for await (const c of got.Body as AsyncIterable<Buffer>) h.update(c);
        assert.equal(h.digest('hex'), o.Key!.split('/').pop(), `object ${o.Key} holds exactly its digest's bytes`);
      }
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      const open = uploads.Uploads ?? [];
      // The killed instance's unfinished uploads are invisible (not objects); surviving instances left none.
      assert.ok(open.length <= 5, `open multipart uploads: ${open.length}`);

      redis.kill();
      const more = await pushImage(up.url, 'team/big', 'v2', { layers: 2, layerSize: 5 * MB });
      const r = await request(`${lb.url}/v2/${REG}/team/big/manifests/v2`, { headers: { accept: more.mediaType } });
      assert.equal(r.statusCode, 200);
      await r.body.dump();
      await Promise.all(Array.from({ length: 5 }, () => pullAll(lb.url, { ...img, config: more.config, layers: more.layers } as PushedImage)));
    } finally { await lb.stop(); await Promise.all(instances.map((i) => i.stop().catch(() => {}))); }
  });
});
