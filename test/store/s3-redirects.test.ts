// Blob redirects (#18) on a real Ceph RGW, proven by real clients: with redirects on, skopeo, podman,
// ctr (--hosts-dir) and dockerd pull through regway and fetch every warm blob from the bucket
// (presigned URLs) or from an nginx "CDN" in front of it that checks regway's secure_link
// signature; digests equal, the bucket's front saw the blob GETs, regway sent no blob bytes. A
// caller not allowed to pull gets 401/403 and no URL; a URL for one blob cannot be turned into
// another's (RGW and nginx answer 403); an expired CDN URL gets 403 from nginx.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { startCeph, type Ceph } from '../helpers/ceph.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { skopeoCopy, ociLayoutDigest, podmanPull, startContainerd, writeHostsToml, ctrPull, startDockerd, dockerPull, type Containerd, type Dockerd } from '../helpers/clients.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { writeHtpasswd, USERS } from '../auth/fixtures.js';
import { applyOverrides } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { createLogger, silentLogger } from '../../src/obs/logger.js';
import { cdnUrl } from '../../src/cache/redirect.js';

const MB = 1024 * 1024;
const PRIVATE = 'registry.example.com';
const CDN_KEY = 'cdn-secret-for-tests-0123456789';
const basic = (u: keyof typeof USERS) => ({ authorization: `Basic ${Buffer.from(`${u}:${USERS[u]}`).toString('base64')}` });

async function fetchAll(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const r = await request(url, { headers });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A metric's value from the text exposition (a sum over series whose labels contain `labels`). */
function metric(text: string, name: string, labels = ''): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

describe('blob redirects on S3 (Ceph RGW), real clients', { timeout: 600_000 }, () => {
  let ceph: Ceph;
  let up: Distribution;
  let front: Nginx; // plain proxy in front of RGW: regway's endpoint and the presigned URLs' host; its log counts GETs
  let cdn: Nginx; // the "CDN": checks secure_link, then reads the bucket
  let gw: Gateway;
  let url: string;
  let host: string;
  let dir: string;
  let bucket: string;
  let config: ConfigInput;
  let app: PushedImage;
  let hello: PushedImage;
  let secret: PushedImage;
  let c: Containerd | undefined;
  let d: Dockerd | undefined;

  // Straight from the registry (/metrics needs the observe right with auth on); a missing series would read 0, so the pull count below is the control.
  const metrics = () => gw.obs.metrics.text();
  const frontLog = () => (existsSync(join(front.dir, 'full.log')) ? readFileSync(join(front.dir, 'full.log'), 'utf8').split('\n').filter(Boolean) : []);
  const frontBlobGets = (since: number) => frontLog().slice(since).filter((l) => l.startsWith('GET ') && l.includes('/regway/blobs/sha256/'));

  before(async () => {
    [ceph, up] = await Promise.all([startCeph(), startDistribution()]);
    [app, hello, secret] = await Promise.all([
      pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 3 * MB }),
      pushImage(up.url, 'library/hello', 'v1', { layers: 2, layerSize: 2 * MB, format: 'docker' }),
      pushImage(up.url, 'secret/app', 'v1', { layers: 1, layerSize: 1 * MB }),
    ]);
    bucket = await ceph.createBucket();
    const rgw = new URL(ceph.endpoint).host;
    // Host kept: a SigV4 signature covers the Host the client used, and RGW checks the one it receives.
    front = await startNginx(`client_max_body_size 0; access_log full.log full; location / { proxy_pass http://${rgw}; proxy_set_header Host $http_host; }`,
      { httpExtra: "log_format full '$request_method $request_uri $status $body_bytes_sent';" });
    // The CDN reads the blob prefix anonymously (a CloudFront origin access identity, in production).
    await ceph.client().send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/regway/blobs/*` }] }),
    }));
    cdn = await startNginx(`
      location / {
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "$secure_link_expires$uri ${CDN_KEY}";
        if ($secure_link = "") { return 403; }
        if ($secure_link = "0") { return 403; }
        proxy_pass http://${rgw}/${bucket}$uri;
      }`);
    dir = makeTempDir('s3redirect');
    config = {
      listen: '127.0.0.1:0',
      defaultRegistry: 'docker.io',
      storage: { driver: 's3', path: dir, s3: { bucket, endpoint: front.url, region: ceph.region, prefix: 'regway', partSize: '5MiB', accessKeyId: ceph.accessKey, secretAccessKey: ceph.secretKey } },
      registries: {
        [PRIVATE]: { upstreams: [{ url: up.url }], redirect: { mode: 'presigned', expiry: '5m' } },
        'docker.io': { upstreams: [{ url: up.url }], redirect: { mode: 'presigned' } },
      },
      auth: {
        htpasswd: await writeHtpasswd(dir),
        access: [
          { repositories: [`${PRIVATE}/team/**`, 'docker.io/**'], anonymous: true, actions: ['pull'] },
          { repositories: [`${PRIVATE}/secret/**`], users: ['alice'], actions: ['pull'] },
        ],
      },
      log: { level: 'silent' },
    };
    gw = await createGateway(applyOverrides(config, {}), process.env.REGWAY_TEST_LOG ? createLogger('debug') : silentLogger());
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (gw.app.server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    host = `127.0.0.1:${port}`;
  });
  after(async () => {
    await d?.stop();
    await c?.stop();
    await gw?.close();
    await cdn?.stop();
    await front?.stop();
    await up?.stop();
    await ceph?.stop();
    if (dir) removeTempDir(dir);
  });

  it('a miss is streamed by regway as before; once committed, the same GET is a 307 with Docker-Content-Digest, HEAD stays 200', async () => {
    const layer = app.layers[0]!;
    const cold = await fetchAll(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`);
    assert.equal(cold.status, 200);
    assert.equal(sha(cold.body), layer.digest);
    await gw.inflight.drain(30_000);
    const warm = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`);
    await warm.body.dump();
    assert.equal(warm.statusCode, 307, JSON.stringify(warm.headers));
    assert.equal(warm.headers['docker-content-digest'], layer.digest);
    const location = String(warm.headers.location);
    assert.ok(location.startsWith(`${front.url}/${bucket}/regway/blobs/sha256/`) && location.includes('X-Amz-Signature='), location);
    const viaS3 = await fetchAll(location);
    assert.equal(viaS3.status, 200);
    assert.equal(sha(viaS3.body), layer.digest);
    const head = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`, { method: 'HEAD' });
    await head.body.dump();
    assert.equal(head.statusCode, 200);
    assert.equal(Number(head.headers['content-length']), layer.size);
  });

  it('a Range GET is redirected too, and the store answers the range', async () => {
    const layer = app.layers[0]!;
    const r = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`, { headers: { range: 'bytes=100-1099' } });
    await r.body.dump();
    assert.equal(r.statusCode, 307);
    const part = await fetchAll(String(r.headers.location), { range: 'bytes=100-1099' });
    assert.equal(part.status, 206);
    assert.equal(part.body.length, 1000);
    const whole = await fetchAll(`${String(r.headers.location)}`);
    assert.deepEqual(part.body, whole.body.subarray(100, 1100));
  });

  it('skopeo, podman, ctr --hosts-dir and docker pull with redirects on: digests equal, blobs came from the bucket, regway sent no blob bytes', async () => {
    // Cold pulls first (misses are streamed and committed), then everything again warm.
    const tmp = join(dir, 'pulls');
    const hosts = join(dir, 'certs.d');
    writeHostsToml(hosts, PRIVATE, { server: 'http://127.0.0.1:1', mirrors: [{ url, capabilities: ['pull', 'resolve'] }] });
    writeHostsToml(hosts, 'docker.io', { server: 'http://127.0.0.1:1', mirrors: [{ url, capabilities: ['pull', 'resolve'] }] });
    const registriesConf = ['[[registry]]', `prefix = "${PRIVATE}"`, `location = "${PRIVATE}"`, '[[registry.mirror]]', `location = "${host}/${PRIVATE}"`, 'insecure = true', ''].join('\n');
    const cold = await skopeoCopy(`docker://${host}/${PRIVATE}/team/app:v1`, `oci:${tmp}-0:v1`);
    assert.equal(cold.code, 0, cold.stderr);
    assert.equal((await fetchAll(`${url}/v2/library/hello/manifests/v1`, { accept: hello.mediaType })).status, 200);
    for (const l of hello.layers) assert.equal((await fetchAll(`${url}/v2/library/hello/blobs/${l.digest}`)).status, 200);
    await fetchAll(`${url}/v2/library/hello/blobs/${hello.config.digest}`);
    await gw.inflight.drain(30_000);

    const before = await metrics();
    const logAt = frontLog().length;
    const sk = await skopeoCopy(`docker://${host}/${PRIVATE}/team/app:v1`, `oci:${tmp}-1:v1`);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(ociLayoutDigest(`${tmp}-1`, 'v1'), app.manifestDigest);
    assert.equal(await podmanPull(`${PRIVATE}/team/app:v1`, { registriesConf }), app.manifestDigest);
    c = await startContainerd();
    assert.equal(await ctrPull(c, `${PRIVATE}/team/app:v1`, hosts), app.manifestDigest);
    d = await startDockerd({ registryMirrors: [url] });
    assert.equal(await dockerPull(d, 'hello:v1'), hello.manifestDigest);
    const after = await metrics();

    const gets = frontBlobGets(logAt).filter((l) => l.includes('X-Amz-Signature='));
    const layers = [...app.layers.map((l) => l.digest), app.config.digest, ...hello.layers.map((l) => l.digest), hello.config.digest];
    for (const digest of layers) {
      assert.ok(gets.some((l) => l.includes(digest.slice(7)) && / 20[06] /.test(l)), `the bucket served ${digest} (front log:\n${gets.join('\n')})`);
    }
    // Blob bytes through regway: none; its bytes out are the manifests.
    const blobBytes = metric(after, 'regway_http_response_bytes_total', 'operation="blob"') - metric(before, 'regway_http_response_bytes_total', 'operation="blob"');
    const manifestBytes = metric(after, 'regway_http_response_bytes_total', 'operation="manifest"') - metric(before, 'regway_http_response_bytes_total', 'operation="manifest"');
    assert.ok(manifestBytes > 0, 'the manifest series is read (so a 0 for blobs is real)');
    assert.equal(blobBytes, 0);
    const redirected = metric(after, 'regway_blob_redirected_bytes_total') - metric(before, 'regway_blob_redirected_bytes_total');
    const redirects = metric(after, 'regway_blob_redirects_total', 'target="presigned"') - metric(before, 'regway_blob_redirects_total', 'target="presigned"');
    assert.ok(redirects >= 3 * 3 + 3, `redirects counted: ${redirects}`);
    assert.ok(redirected >= 3 * (app.layers[0]!.size + app.layers[1]!.size), `redirected bytes: ${redirected}`);
    // Pulls still count: four client pulls at least.
    assert.ok(metric(after, 'regway_pulls_total', 'outcome="success"') - metric(before, 'regway_pulls_total', 'outcome="success"') >= 4);
    process.stderr.write(`# warm pulls by 4 clients: regway sent ${manifestBytes} manifest bytes and 0 blob bytes; ${redirects} redirects for ${redirected} bytes\n`);
  });

  it('a caller not allowed to pull gets 401/403 and never a URL; the allowed caller gets one', async () => {
    const layer = secret.layers[0]!;
    const first = await fetchAll(`${url}/v2/${PRIVATE}/secret/app/blobs/${layer.digest}`, basic('alice'));
    assert.equal(first.status, 200);
    await gw.inflight.drain(30_000);
    const anon = await request(`${url}/v2/${PRIVATE}/secret/app/blobs/${layer.digest}`);
    await anon.body.dump();
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.headers.location, undefined);
    const bob = await request(`${url}/v2/${PRIVATE}/secret/app/blobs/${layer.digest}`, { headers: basic('bob') });
    await bob.body.dump();
    assert.ok(bob.statusCode === 401 || bob.statusCode === 403, String(bob.statusCode));
    assert.equal(bob.headers.location, undefined);
    // Anonymous may pull team/**, but the secret digest through that repository is not theirs (no link).
    const other = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`);
    await other.body.dump();
    assert.notEqual(other.statusCode, 307);
    assert.equal(other.headers.location, undefined);
    const alice = await request(`${url}/v2/${PRIVATE}/secret/app/blobs/${layer.digest}`, { headers: basic('alice') });
    await alice.body.dump();
    assert.equal(alice.statusCode, 307);
  });

  it('a presigned URL for one blob cannot be turned into another blob\'s: RGW answers 403', async () => {
    const [a, b] = app.layers;
    const r = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${a!.digest}`);
    await r.body.dump();
    const location = String(r.headers.location);
    const enc = (x: string) => x.slice(7);
    const forged = location.replace(`/sha256/${enc(a!.digest).slice(0, 2)}/${enc(a!.digest)}`, `/sha256/${enc(b!.digest).slice(0, 2)}/${enc(b!.digest)}`);
    assert.notEqual(forged, location);
    const res = await fetchAll(forged);
    assert.equal(res.status, 403, res.body.toString());
    assert.ok(!res.body.includes(b!.bytes!.subarray(0, 64)));
  });

  it('CDN mode (hot reload): clients pull through the nginx CDN, which checks the secure_link signature; expired or tampered URLs get 403', async () => {
    const cdnCfg = { mode: 'cdn' as const, expiry: '2m', cdn: { baseUrl: `${cdn.url}/`, signing: 'nginx-secure-link' as const, key: CDN_KEY } };
    const next = applyOverrides({ ...config, registries: { [PRIVATE]: { upstreams: [{ url: up.url }], redirect: cdnCfg }, 'docker.io': { upstreams: [{ url: up.url }], redirect: cdnCfg } } }, {});
    const { changed } = await gw.reload(next);
    assert.ok(changed.includes(`registries.${PRIVATE}`), changed.join());
    const logAt = cdn.accessLog().length;
    const sk = await skopeoCopy(`docker://${host}/${PRIVATE}/team/app:v1`, `oci:${join(dir, 'cdn')}:v1`);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(ociLayoutDigest(join(dir, 'cdn'), 'v1'), app.manifestDigest);
    assert.equal(await ctrPull(c!, `${PRIVATE}/team/app:v1`, join(dir, 'certs.d')), app.manifestDigest);
    const served = cdn.accessLog().slice(logAt).filter((l) => l.startsWith('GET /regway/blobs/sha256/') && / 200 /.test(l));
    for (const l of app.layers) assert.ok(served.some((s) => s.includes(l.digest.slice(7))), `the CDN served ${l.digest}:\n${served.join('\n')}`);

    const layer = app.layers[0]!;
    const r = await request(`${url}/v2/${PRIVATE}/team/app/blobs/${layer.digest}`);
    await r.body.dump();
    assert.equal(r.statusCode, 307);
    assert.equal(r.headers['x-regway-redirect'], 'cdn');
    const location = String(r.headers.location);
    assert.equal(sha((await fetchAll(location)).body), layer.digest);
    const other = app.layers[1]!.digest.slice(7);
    const key = (enc: string) => `regway/blobs/sha256/${enc.slice(0, 2)}/${enc}`;
    const tampered = location.replace(key(layer.digest.slice(7)), key(other));
    assert.equal((await fetchAll(tampered)).status, 403, 'another blob with this signature');
    const later = location.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 3600}`);
    assert.equal((await fetchAll(later)).status, 403, 'a later expiry with this signature');
    const expired = cdnUrl(`${cdn.url}/`, key(layer.digest.slice(7)), 'nginx-secure-link', CDN_KEY, Math.floor(Date.now() / 1000) - 10);
    assert.equal((await fetchAll(expired)).status, 403, 'expired');
    const valid = cdnUrl(`${cdn.url}/`, key(layer.digest.slice(7)), 'nginx-secure-link', CDN_KEY, Math.floor(Date.now() / 1000) + 60);
    assert.equal((await fetchAll(valid)).status, 200, 'the same URL in time, as a control');
  });
});
