// TLS with a `regway tls self-signed` certificate: HTTP/2 through ALPN with HTTP/1.1 fallback,
// skopeo pushing and pulling with certificate verification on, curl --http2, and h2load.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, setGlobalDispatcher, getGlobalDispatcher, request } from 'undici';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { skopeoCopy, skopeoInspectDigest, ociLayoutDigest } from '../helpers/clients.js';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';
import { regway } from '../auth/fixtures.js';

describe('TLS and HTTP/2', () => {
  const dir = makeTempDir('regway-tls');
  const certDir = join(dir, 'certs.d');
  let gw: HostedGateway;
  let img: PushedImage;
  let ca: Buffer;
  const previous = getGlobalDispatcher();

  before(async () => {
    const r = await regway(['tls', 'self-signed', '--out', dir, '--name', 'localhost', '127.0.0.1', '--days', '2']);
    assert.equal(r.code, 0, r.stderr);
    ca = readFileSync(join(dir, 'cert.pem'));
    mkdirSync(certDir);
    copyFileSync(join(dir, 'cert.pem'), join(certDir, 'ca.crt'));
    gw = await startHostedGateway({ config: { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } });
    // fetch (used by the image pusher) verifies against this CA only: nothing is trusted blindly.
    setGlobalDispatcher(new Agent({ connect: { ca } }));
    img = await pushImage(gw.url, 'local/app', 'v1', { layers: 2, layerSize: 500_000 });
  });
  after(async () => { setGlobalDispatcher(previous); await gw?.stop(); removeTempDir(dir); });

  it('the key file is private and the certificate names the loopback address', () => {
    assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('curl negotiates HTTP/2 through ALPN, and HTTP/1.1 still works', async () => {
    const url = `${gw.url}/v2/local/app/manifests/v1`;
    const h2 = await run('curl', ['-sS', '--http2', '--cacert', join(dir, 'cert.pem'), '-H', `accept: ${img.mediaType}`, '-o', join(dir, 'm2'), '-w', '%{http_version} %{http_code}', url]);
    assert.equal(h2.stdout, '2 200', h2.stderr);
    assert.ok(readFileSync(join(dir, 'm2')).equals(img.manifest));
    const h1 = await run('curl', ['-sS', '--http1.1', '--cacert', join(dir, 'cert.pem'), '-o', '/dev/null', '-w', '%{http_version} %{http_code}', url]);
    assert.equal(h1.stdout, '1.1 200', h1.stderr);
    const untrusted = await run('curl', ['-sS', '--http2', '-o', '/dev/null', url]);
    assert.notEqual(untrusted.code, 0, 'without the CA the certificate is not trusted');
    const plain = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', url.replace('https:', 'http:')]);
    assert.notEqual(plain.stdout, '200', 'plain HTTP is not served on the TLS port');
  });

  it('skopeo pulls and pushes with TLS verification on (cert dir)', async () => {
    const out = join(dir, 'oci');
    const pull = await skopeoCopy(`docker://${gw.host}/local/app:v1`, `oci:${out}:v1`, { srcTlsVerify: true, extra: ['--src-cert-dir', certDir] });
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(ociLayoutDigest(out, 'v1'), img.manifestDigest);
    const push = await skopeoCopy(`oci:${out}:v1`, `docker://${gw.host}/local/pushed:v1`, { destTlsVerify: true, extra: ['--dest-cert-dir', certDir] });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(await skopeoInspectDigest(`docker://${gw.host}/local/pushed:v1`, { tlsVerify: false }), img.manifestDigest);
    const noTrust = await skopeoCopy(`docker://${gw.host}/local/app:v1`, `oci:${join(dir, 'oci2')}:v1`, { srcTlsVerify: true });
    assert.notEqual(noTrust.code, 0, 'verification really is on');
  });

  it('h2load fetches a blob over HTTP/2 on several streams', async () => {
    const url = `${gw.url}/v2/local/app/blobs/${img.layers[0]!.digest}`;
    const r = await run('h2load', ['-n', '200', '-c', '4', '-m', '8', url], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Application protocol: h2/);
    assert.match(r.stdout, /requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored/);
    assert.match(r.stdout, /status codes: 200 2xx/);
    const bytes = /traffic: .*?\((\d+)\) total/.exec(r.stdout);
    assert.ok(bytes && Number(bytes[1]) >= 200 * img.layers[0]!.size, r.stdout);
    process.stdout.write(`# h2load: ${/finished in .*$/m.exec(r.stdout)?.[0]}\n`);
  });

  it('undici over HTTP/1.1 with the CA gets the same bytes', async () => {
    const r = await request(`${gw.url}/v2/local/app/blobs/${img.layers[1]!.digest}`, { dispatcher: new Agent({ connect: { ca } }) });
    const b = Buffer.from(await r.body.arrayBuffer());
    assert.equal(r.statusCode, 200);
    assert.equal(b.length, img.layers[1]!.size);
  });
});
