// The push side through app.inject(), on a whole gateway in memory: uploads (chunked and
// monolithic), manifest PUT, tags and delete of a hosted repository; and the 405s a pull-through
// repository, an unknown method or a gateway without hosted repositories answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream } from '../testing/fake-upstream.js';
import { patterned, sha256 } from '../testing/fake-registry.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const errCode = (body: string) => JSON.parse(body).errors[0].code as string;

describe('push handlers and 405s (unit: memory store)', () => {
  let up: FakeUpstream;
  let hosted: UnitGateway;
  let pullOnly: UnitGateway;
  before(async () => {
    up = await FakeUpstream.start();
    const registries = { 'docker.io': upstreams([up.url]) };
    hosted = await unitGateway({ registries, hosted: { repositories: ['local/**'] } });
    pullOnly = await unitGateway({ registries });
  });
  after(async () => { await hosted?.stop(); await pullOnly?.stop(); await up?.stop(); });

  const inject = (gw: UnitGateway, method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}) =>
    gw.app.inject({ method: method as 'PUT', url, payload: body, headers: { 'content-type': 'application/octet-stream', ...headers } });

  it('a chunked upload: POST, PATCH, PUT with the digest; the blob is then served', async () => {
    const bytes = patterned(40_000, 'chunked');
    const digest = sha256(bytes);
    const start = await inject(hosted, 'POST', '/v2/local/app/blobs/uploads/');
    assert.equal(start.statusCode, 202, start.body);
    const loc = String(start.headers.location);
    assert.match(loc, /^\/v2\/local\/app\/blobs\/uploads\/[^/?]+/);
    assert.ok(start.headers['docker-upload-uuid'], 'start.headers[\'docker-upload-uuid\']');
    const patch = await inject(hosted, 'PATCH', loc, bytes.subarray(0, 25_000), { 'content-range': '0-24999' });
    assert.equal(patch.statusCode, 202, patch.body);
    assert.equal(patch.headers.range, '0-24999');
    const status = await inject(hosted, 'GET', String(patch.headers.location));
    assert.equal(status.statusCode, 204);
    assert.equal(status.headers.range, '0-24999');
    const sep = String(patch.headers.location).includes('?') ? '&' : '?';
    const put = await inject(hosted, 'PUT', `${patch.headers.location}${sep}digest=${digest}`, bytes.subarray(25_000));
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.headers['docker-content-digest'], digest);
    const got = await hosted.call('GET', `/v2/local/app/blobs/${digest}`);
    assert.ok(got.rawPayload.equals(bytes), 'got.rawPayload.equals(bytes)');
  });

  it('a monolithic upload, a manifest PUT, its tag listed, pulled, then deleted by digest', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = patterned(3000, 'mono');
    for (const b of [config, layer]) {
      const r = await inject(hosted, 'POST', `/v2/local/app/blobs/uploads/?digest=${sha256(b)}`, b);
      assert.equal(r.statusCode, 201, r.body);
    }
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }));
    const put = await inject(hosted, 'PUT', '/v2/local/app/manifests/v1', manifest, { 'content-type': OCI });
    assert.equal(put.statusCode, 201, put.body);
    assert.equal(put.headers['docker-content-digest'], sha256(manifest));
    const tags = await hosted.call('GET', '/v2/local/app/tags/list');
    assert.deepEqual(JSON.parse(tags.body), { name: 'local/app', tags: ['v1'] });
    const pulled = await hosted.call('GET', '/v2/local/app/manifests/v1', { accept: OCI });
    assert.ok(pulled.rawPayload.equals(manifest), 'pulled.rawPayload.equals(manifest)');
    assert.ok(JSON.parse((await hosted.call('GET', '/v2/_catalog')).body).repositories.includes('local/app'), 'JSON.parse((await hosted.call(\'GET\', \'/v2/_catalog\')).body).repositories.includes(\'local/app\')');
    const del = await inject(hosted, 'DELETE', `/v2/local/app/manifests/${sha256(manifest)}`);
    assert.equal(del.statusCode, 202, del.body);
    const gone = await hosted.call('GET', '/v2/local/app/manifests/v1', { accept: OCI });
    assert.equal(gone.statusCode, 404);
    assert.equal(up.requests.length, 0, 'hosted names never go upstream');
  });

  it('a push to a pull-through repository is 405 UNSUPPORTED with Allow: GET, HEAD', async () => {
    for (const [method, url] of [['POST', '/v2/library/alpine/blobs/uploads/'], ['PUT', '/v2/library/alpine/manifests/v1'], ['DELETE', '/v2/library/alpine/manifests/v1']]) {
      const r = await inject(hosted, method!, url!, method === 'PUT' ? '{}' : undefined);
      assert.equal(r.statusCode, 405, `${method} ${url}`);
      assert.equal(errCode(r.body), 'UNSUPPORTED');
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('without hosted repositories every write is 405; OPTIONS is 405 naming what works', async () => {
    const post = await inject(pullOnly, 'POST', '/v2/local/app/blobs/uploads/');
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const options = await inject(pullOnly, 'OPTIONS', '/v2/library/alpine/manifests/v1');
    assert.equal(options.statusCode, 405);
    assert.equal(options.headers.allow, 'GET, HEAD');
    const hostedOptions = await inject(hosted, 'OPTIONS', '/v2/local/app/manifests/v1');
    assert.equal(hostedOptions.headers.allow, 'GET, HEAD, POST, PUT, PATCH, DELETE');
    const wrong = await inject(hosted, 'PATCH', '/v2/local/app/manifests/v1', 'x');
    assert.equal(wrong.statusCode, 405);
    assert.equal(wrong.headers.allow, 'GET, HEAD, PUT, DELETE');
  });
});
