// `regway doctor` on a registry that redirects blob GETs (#18, docs/redirects.md), on a real Ceph RGW:
// through regway with presigned redirects the doctor reports the bucket as the byte source; with a
// CDN on a closed port it says the target is unreachable. A scripted registry in front of a real
// distribution then redirects to real RGW URLs that are expired, signed with another key, or for an
// evicted object, and to a server whose clock is an hour ahead (the one fake: RGW's clock cannot be moved).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { applyOverrides } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { silentLogger } from '../../src/obs/logger.js';
import { startCeph, type Ceph } from '../helpers/ceph.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { get, isolated, show } from './fixtures/assert.js';

const PRIVATE = 'registry.example.com';
const MB = 1024 * 1024;

describe('doctor: where blob bytes come from when the registry redirects', { timeout: 300_000 }, () => {
  let ceph: Ceph;
  let up: Distribution;
  let gw: Gateway;
  let url: string;
  let tmp: string;
  let bucket: string;
  let img: PushedImage;
  let config: ConfigInput;
  let scripted: ScriptedUpstream;
  let skewed: Server;
  const largest = () => [...img.layers].sort((a, b) => b.size - a.size)[0]!;

  before(async () => {
    [ceph, up] = await Promise.all([startCeph(), startDistribution()]);
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 2 * MB });
    bucket = await ceph.createBucket();
    tmp = makeTempDir('doctor-redirect');
    config = {
      listen: '127.0.0.1:0',
      storage: {
        driver: 's3',
        path: tmp,
        s3: { bucket, endpoint: ceph.endpoint, region: ceph.region, prefix: 'regway', partSize: '5MiB', accessKeyId: ceph.accessKey, secretAccessKey: ceph.secretKey },
      },
      registries: { [PRIVATE]: { upstreams: [{ url: up.url }], redirect: { mode: 'presigned' } } },
      log: { level: 'silent' },
    };
    gw = await createGateway(applyOverrides(config, {}), silentLogger());
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
    // Cold: streamed and committed, so the doctor's GET is a redirect.
    for (const b of [img.config, ...img.layers]) await (await request(`${url}/v2/${PRIVATE}/team/app/blobs/${b.digest}`)).body.dump();
    await gw.inflight.drain(30_000);
    scripted = await startScriptedUpstream({ behind: up.url });
    skewed = createServer((_req, res) => {
      res.writeHead(403, { date: new Date(Date.now() + 3_600_000).toUTCString(), 'content-type': 'application/xml' });
      res.end('<Error><Code>RequestTimeTooSkewed</Code></Error>');
    });
    await new Promise<void>((r) => skewed.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    skewed?.close();
    await scripted?.stop();
    await gw?.close();
    await up?.stop();
    await ceph?.stop();
    if (tmp) removeTempDir(tmp);
  });

  it('presigned redirects through regway: the bytes come from the bucket (RGW), and the sample is read there', async () => {
    const r = await runDoctor(`${PRIVATE}/team/app:v1`, { ...isolated(tmp), via: url });
    const f = get(r, 'BLOB_REDIRECT_OK');
    assert.equal(f.data?.host, new URL(ceph.endpoint).host, show(r));
    assert.equal(f.data?.kind, 'presigned');
    const ok = get(r, 'BLOB_OK');
    assert.match(ok.detail, new RegExp(`from ${new URL(ceph.endpoint).host} \\(redirected\\)`));
    assert.equal(ok.data?.sampleBytes, largest().size <= 4 * MB ? largest().size : 4 * MB);
    assert.ok(r.worst === 'ok' || r.worst === 'info', show(r));
  });

  it('a CDN baseUrl on a closed port: the doctor says the redirect target is unreachable (an error), not that the registry is down', async () => {
    const port = await freePort();
    const next = applyOverrides({ ...config, registries: { [PRIVATE]: { upstreams: [{ url: up.url }], redirect: { mode: 'cdn', cdn: { baseUrl: `http://127.0.0.1:${port}/` } } } } }, {});
    await gw.reload(next);
    const r = await runDoctor(`${PRIVATE}/team/app:v1`, { ...isolated(tmp), via: url, timeoutMs: 5_000 });
    const f = get(r, 'BLOB_REDIRECT_UNREACHABLE');
    assert.equal(f.data?.host, `127.0.0.1:${port}`);
    assert.equal(f.data?.kind, 'cdn');
    assert.match(f.detail, /ECONNREFUSED/);
    get(r, 'MANIFEST_OK');
    assert.equal(r.worst, 'error');
  });

  /** The scripted registry answers blob GETs with a 307 to `location`; everything else is the real distribution. */
  const redirectTo = (location: string) =>
    scripted.on((req, res) => {
      if (req.method !== 'GET' || !req.url?.includes('/blobs/')) return false;
      res.writeHead(307, { location, 'docker-content-digest': largest().digest }).end();
      return true;
    });
  const objectKey = () => `regway/blobs/sha256/${largest().digest.slice(7, 9)}/${largest().digest.slice(7)}`;
  const presign = (key: string, o: { signingDate?: Date; creds?: { accessKey: string; secretKey: string } } = {}) =>
    getSignedUrl(ceph.client(o.creds), new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300, ...(o.signingDate ? { signingDate: o.signingDate } : {}) });
  const doctorScripted = () => runDoctor(`http://${scripted.host}/team/app:v1`, { ...isolated(tmp), timeoutMs: 5_000 });

  it('real RGW refusals: an expired URL (clocks agree), a URL signed with another key, an object gone since', async () => {
    redirectTo(await presign(objectKey()));
    get(await doctorScripted(), 'BLOB_REDIRECT_OK');

    redirectTo(await presign(objectKey(), { signingDate: new Date(Date.now() - 3_600_000) }));
    const expired = get(await doctorScripted(), 'BLOB_REDIRECT_EXPIRED');
    assert.match(expired.detail, /past when used/);

    redirectTo(await presign(objectKey(), { creds: { accessKey: ceph.accessKey, secretKey: 'not-the-secret' } }));
    get(await doctorScripted(), 'BLOB_REDIRECT_DENIED');

    redirectTo(await presign('regway/blobs/sha256/00/0000-evicted'));
    const gone = get(await doctorScripted(), 'BLOB_REDIRECT_FAILED');
    assert.match(gone.detail, /answered 404/);
  });

  it('a target whose clock is an hour ahead refuses a fresh URL: clock skew, with the size of the skew', async () => {
    const u = new URL(await presign(objectKey()));
    redirectTo(`http://127.0.0.1:${(skewed.address() as AddressInfo).port}${u.pathname}${u.search}`);
    const f = get(await doctorScripted(), 'BLOB_REDIRECT_CLOCK_SKEW');
    assert.match(f.detail, /(3599|3600|3601) s ahead of this node's/);
  });
});
