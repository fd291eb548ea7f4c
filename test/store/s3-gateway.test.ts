// regway on S3 storage (a real Ceph RGW) in front of a real distribution: skopeo pulls through it,
// concurrent cold clients share one upstream fetch (readers follow the private spool, since an S3
// writer has no local file), and a second instance on the same bucket serves everything the
// first cached without contacting the upstream, also once the upstream is gone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startCeph, type Ceph } from '../helpers/ceph.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { skopeoCopy, ociLayoutDigest } from '../helpers/clients.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { applyOverrides } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { createLogger, silentLogger } from '../../src/obs/logger.js';
import { S3Driver } from '../../src/store/s3-driver.js';

const MB = 1024 * 1024;
const PRIVATE = 'registry.example.com';

interface Running { gw: Gateway; url: string; host: string; stop(): Promise<void> }

async function startS3Gateway(ceph: Ceph, bucket: string, upstream: string): Promise<Running> {
  const dir = makeTempDir('s3gw');
  const config = applyOverrides({
    listen: '127.0.0.1:0',
    // storage.path only holds this instance's local observability files; blobs and metadata go to S3.
    storage: {
      driver: 's3', path: dir,
      s3: { bucket, endpoint: ceph.endpoint, region: ceph.region, prefix: 'regway', partSize: '5MiB', accessKeyId: ceph.accessKey, secretAccessKey: { env: 'REGWAY_TEST_S3_SECRET' } },
    },
    registries: { [PRIVATE]: { upstreams: [{ url: upstream }] } },
    log: { level: 'silent' },
  }, {});
  const gw = await createGateway(config, process.env.REGWAY_TEST_LOG ? createLogger('debug') : silentLogger());
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  return { gw, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, stop: async () => { await gw.close(); removeTempDir(dir); } };
}

async function digestOf(url: string): Promise<string> {
  const r = await request(url);
  assert.equal(r.statusCode, 200, url);
  const h = createHash('sha256');
  for await (const c of r.body) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe('gateway on S3 storage (Ceph RGW)', { timeout: 300_000 }, () => {
  let ceph: Ceph;
  let up: Distribution;
  let img: PushedImage;
  let big: PushedImage;
  let bucket: string;
  let gw1: Running;
  let gw2: Running | undefined;
  let tmp: string;
  let upstreamStopped = false;

  before(async () => {
    [ceph, up] = await Promise.all([startCeph(), startDistribution()]);
    process.env.REGWAY_TEST_S3_SECRET = ceph.secretKey; // exercises the {env} secret reference
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 7 * MB });
    big = await pushImage(up.url, 'team/big', 'v1', { layers: 1, layerSize: 12 * MB });
    bucket = await ceph.createBucket();
    gw1 = await startS3Gateway(ceph, bucket, up.url);
    tmp = makeTempDir('s3pull');
  });
  after(async () => {
    await gw2?.stop();
    await gw1?.stop();
    if (!upstreamStopped) await up?.stop();
    await ceph?.stop();
    if (tmp) removeTempDir(tmp);
  });

  it('skopeo copies an image through the S3-backed gateway, digests equal', async () => {
    const r = await skopeoCopy(`docker://${gw1.host}/${PRIVATE}/team/app:v1`, `oci:${join(tmp, 'a1')}:v1`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'a1'), 'v1'), img.manifestDigest);
  });

  it('10 concurrent cold clients: one upstream GET, exact bytes for all (spool fallback)', async () => {
    const layer = big.layers[0]!;
    const url = `${gw1.url}/v2/${PRIVATE}/team/big/blobs/${layer.digest}`;
    const got = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      // the time is the subject: clients arrive spread over 200 ms, joining the fetch at every stage
      await new Promise((r) => setTimeout(r, i * 20));
      return digestOf(url);
    }));
    assert.deepEqual(got, Array(10).fill(layer.digest));
    const gets = (await up.accessLog()).filter((l) => l.method === 'GET' && l.path === `/v2/team/big/blobs/${layer.digest}`);
    assert.equal(gets.length, 1);
  });

  it('the blobs are objects in the bucket, and no multipart upload is left open', async () => {
    // Clients are answered once the digest is verified; the commit (CompleteMultipartUpload) follows.
    await gw1.gw.inflight.drain(30_000);
    const d = new S3Driver({ bucket, region: ceph.region, endpoint: ceph.endpoint, prefix: 'regway', credentials: { accessKeyId: ceph.accessKey, secretAccessKey: ceph.secretKey } });
    try {
      const keys = new Map<string, number>();
      for await (const e of d.list('blobs')) keys.set(e.key.split('/').pop()!, e.size);
      for (const l of [...img.layers, ...big.layers, img.config]) {
        assert.equal(keys.get(l.digest.slice('sha256:'.length)), l.size, `blob ${l.digest} in the bucket with its size`);
      }
      assert.equal(await d.abortStaleUploads(0, Date.now() + 60_000), 0, 'no incomplete multipart upload');
    } finally { d.close(); }
  });

  it('a blob object cut short in the bucket is never served as a hit: it is fetched again, exact', async () => {
    const layer = img.layers[1]!;
    const d = new S3Driver({ bucket, region: ceph.region, endpoint: ceph.endpoint, prefix: 'regway', credentials: { accessKeyId: ceph.accessKey, secretAccessKey: ceph.secretKey } });
    try {
      const hex = layer.digest.slice('sha256:'.length);
      const key = `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
      const whole = await d.get(key);
      await d.put(key, whole!.subarray(0, 1000));
    } finally { d.close(); }
    const before = (await up.accessLog()).filter((l) => l.method === 'GET' && l.path.endsWith(layer.digest)).length;
    assert.equal(await digestOf(`${gw1.url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`), layer.digest);
    const after = (await up.accessLog()).filter((l) => l.method === 'GET' && l.path.endsWith(layer.digest)).length;
    assert.equal(after, before + 1, 'fetched again from the upstream, not served short');
    await gw1.gw.inflight.drain(30_000);
  });

  it('a second instance on the same bucket serves the cached image without the upstream', async () => {
    gw2 = await startS3Gateway(ceph, bucket, up.url);
    await gw2.gw.cacheIndex.keeper.settled(); // its new index is built from the bucket in the background
    assert.ok(gw2.gw.index.count >= img.layers.length + 2, `index loaded from the S3 listing (${gw2.gw.index.count} blobs)`);
    const before = (await up.accessLog()).length;
    const r = await skopeoCopy(`docker://${gw2.host}/${PRIVATE}/team/app:v1`, `oci:${join(tmp, 'a2')}:v1`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'a2'), 'v1'), img.manifestDigest);
    assert.equal((await up.accessLog()).length, before, 'the upstream saw no request from the second instance');

    await up.stop();
    upstreamStopped = true;
    const r2 = await skopeoCopy(`docker://${gw2.host}/${PRIVATE}/team/app:v1`, `oci:${join(tmp, 'a3')}:v1`);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'a3'), 'v1'), img.manifestDigest);
    assert.equal(await digestOf(`${gw2.url}/v2/${PRIVATE}/team/big/blobs/${big.layers[0]!.digest}`), big.layers[0]!.digest);
  });
});
