// Every pull-side handler through app.inject() at least once, on a whole gateway in memory with a
// fake upstream: ping, manifests (GET/HEAD, by digest, 304, Accept), blobs (GET/HEAD/Range/416),
// tags (n/last, Link, the upstream's Link paging), referrers (API, filter, fallback tag), catalog.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream } from '../testing/fake-upstream.js';
import { OCI_INDEX, patterned, type PushedImage } from '../testing/fake-registry.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = { accept: `${OCI}, ${OCI_INDEX}` };

describe('pull handlers (unit: memory store, fake upstream)', () => {
  let up: FakeUpstream;
  let gw: UnitGateway;
  let img: PushedImage;
  before(async () => {
    up = await FakeUpstream.start();
    gw = await unitGateway({ registries: { 'docker.io': upstreams([up.url]), 'reg.test': upstreams([up.url]) } });
    img = up.image('team/app', 'v1', { layers: [patterned(5000, 'layer')] });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  it('ping: /v2/ answers {}, /v2 redirects there', async () => {
    const r = await gw.call('GET', '/v2/');
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, '{}');
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    const moved = await gw.call('GET', '/v2');
    assert.equal(moved.statusCode, 301);
    assert.equal(moved.headers.location, '/v2/');
  });

  it('manifests: GET and HEAD by tag and by digest, byte for byte, with their headers', async () => {
    const get = await gw.call('GET', '/v2/reg.test/team/app/manifests/v1', ACCEPT);
    assert.equal(get.statusCode, 200);
    assert.ok(get.rawPayload.equals(img.manifest), 'get.rawPayload.equals(img.manifest)');
    assert.equal(get.headers['content-type'], OCI);
    assert.equal(get.headers['content-length'], String(img.manifest.length));
    assert.equal(get.headers.etag, `"${img.digest}"`);
    const head = await gw.call('HEAD', '/v2/reg.test/team/app/manifests/v1', ACCEPT);
    assert.equal(head.statusCode, 200);
    assert.equal(head.rawPayload.length, 0);
    assert.equal(head.headers['content-length'], String(img.manifest.length));
    const byDigest = await gw.call('GET', `/v2/reg.test/team/app/manifests/${img.digest}`, { accept: 'application/json' });
    assert.equal(byDigest.statusCode, 200, 'by digest the bytes are what the client named, whatever Accept says');
    assert.ok(byDigest.rawPayload.equals(img.manifest), 'byDigest.rawPayload.equals(img.manifest)');
  });

  it('manifests: If-None-Match with the ETag is a 304; an Accept that excludes the type is MANIFEST_UNKNOWN', async () => {
    const r = await gw.call('GET', '/v2/reg.test/team/app/manifests/v1', { ...ACCEPT, 'if-none-match': `"${img.digest}"` });
    assert.equal(r.statusCode, 304);
    assert.equal(r.rawPayload.length, 0);
    const wrong = await gw.call('GET', '/v2/reg.test/team/app/manifests/v1', { accept: 'application/vnd.docker.distribution.manifest.v2+json' });
    assert.equal(wrong.statusCode, 404);
    assert.equal(JSON.parse(wrong.body).errors[0].code, 'MANIFEST_UNKNOWN');
    const bad = await gw.call('GET', '/v2/reg.test/team/app/manifests/sha256:nothex', ACCEPT);
    assert.equal(bad.statusCode, 400);
  });

  it('blobs: HEAD, GET, a Range (206), a suffix Range and an unsatisfiable one (416)', async () => {
    const layer = img.layers[0]!;
    const url = `/v2/reg.test/team/app/blobs/${layer.digest}`;
    const head = await gw.call('HEAD', url);
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(layer.size));
    const get = await gw.call('GET', url);
    assert.ok(get.rawPayload.equals(layer.bytes), 'get.rawPayload.equals(layer.bytes)');
    assert.equal(get.headers['docker-content-digest'], layer.digest);
    assert.equal(get.headers['accept-ranges'], 'bytes');
    const part = await gw.call('GET', url, { range: 'bytes=10-19' });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${layer.size}`);
    assert.ok(part.rawPayload.equals(layer.bytes.subarray(10, 20)), 'part.rawPayload.equals(layer.bytes.subarray(10, 20))');
    const suffix = await gw.call('GET', url, { range: 'bytes=-7' });
    assert.ok(suffix.rawPayload.equals(layer.bytes.subarray(-7)), 'suffix.rawPayload.equals(layer.bytes.subarray(-7))');
    const beyond = await gw.call('GET', url, { range: `bytes=${layer.size}-` });
    assert.equal(beyond.statusCode, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${layer.size}`);
    const missing = await gw.call('GET', `/v2/reg.test/team/app/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(missing.statusCode, 404);
    assert.equal(JSON.parse(missing.body).errors[0].code, 'BLOB_UNKNOWN');
  });

  it('tags: the whole list follows the upstream\'s Link pages; n and last page it with a Link', async () => {
    for (const t of ['a', 'b', 'c', 'd', 'e']) up.tag('team/tags', t, img.digest);
    up.tagPageSize = 2;
    try {
      const all = await gw.call('GET', '/v2/reg.test/team/tags/tags/list');
      assert.equal(all.statusCode, 200, all.body);
      assert.deepEqual(JSON.parse(all.body), { name: 'reg.test/team/tags', tags: ['a', 'b', 'c', 'd', 'e'] });
      assert.equal(up.count('GET', '/v2/team/tags/tags/list'), 3, 'three upstream pages of two');
      assert.equal(all.headers.link, undefined);
      const page = await gw.call('GET', '/v2/reg.test/team/tags/tags/list?n=2');
      assert.deepEqual(JSON.parse(page.body).tags, ['a', 'b']);
      assert.equal(page.headers.link, '</v2/reg.test/team/tags/tags/list?n=2&last=b>; rel="next"');
      const next = await gw.call('GET', '/v2/reg.test/team/tags/tags/list?n=2&last=b');
      assert.deepEqual(JSON.parse(next.body).tags, ['c', 'd']);
      const last = await gw.call('GET', '/v2/reg.test/team/tags/tags/list?n=2&last=d');
      assert.deepEqual(JSON.parse(last.body).tags, ['e']);
      assert.equal(last.headers.link, undefined);
      const bad = await gw.call('GET', '/v2/reg.test/team/tags/tags/list?n=-1');
      assert.equal(bad.statusCode, 400);
      assert.equal(JSON.parse(bad.body).errors[0].code, 'PAGINATION_NUMBER_INVALID');
      const unknown = await gw.call('GET', '/v2/reg.test/team/none/tags/list');
      assert.equal(unknown.statusCode, 404);
      assert.equal(JSON.parse(unknown.body).errors[0].code, 'NAME_UNKNOWN');
    } finally { up.tagPageSize = undefined; }
  });

  it('referrers: the upstream API, filtered by artifactType', async () => {
    const subject = { mediaType: OCI, digest: img.digest, size: img.manifest.length };
    const sig = up.image('team/app', undefined, { seed: 'sig', subject, artifactType: 'application/vnd.example.sig' });
    up.image('team/app', undefined, { seed: 'sbom', subject, artifactType: 'application/vnd.example.sbom' });
    const r = await gw.call('GET', `/v2/reg.test/team/app/referrers/${img.digest}`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], OCI_INDEX);
    assert.equal(JSON.parse(r.body).manifests.length, 2);
    const f = await gw.call('GET', `/v2/reg.test/team/app/referrers/${img.digest}?artifactType=application/vnd.example.sig`);
    assert.deepEqual(JSON.parse(f.body).manifests.map((m: { digest: string }) => m.digest), [sig.digest]);
    assert.equal(f.headers['oci-filters-applied'], 'artifactType');
  });

  it('referrers: an upstream without the API is read through the fallback tag', async () => {
    const base = up.image('team/old', 'v1');
    const ref = { mediaType: OCI, digest: `sha256:${'1'.repeat(64)}`, size: 10, artifactType: 'application/vnd.example.sig' };
    up.manifest('team/old', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [ref] }, { tag: base.digest.replace(':', '-') });
    up.referrersApi = false;
    try {
      const r = await gw.call('GET', `/v2/reg.test/team/old/referrers/${base.digest}`);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(JSON.parse(r.body).manifests, [ref]);
    } finally { up.referrersApi = true; }
  });

  it('catalog: the repositories cached, default registry names bare, paged with n and a Link', async () => {
    up.image('library/alpine', 'latest');
    assert.equal((await gw.call('GET', '/v2/alpine/manifests/latest', ACCEPT)).statusCode, 200);
    const all = JSON.parse((await gw.call('GET', '/v2/_catalog')).body).repositories as string[];
    assert.ok(all.includes('library/alpine'), all.join());
    assert.ok(all.includes('reg.test/team/app'), all.join());
    const page = await gw.call('GET', '/v2/_catalog?n=1');
    assert.equal(JSON.parse(page.body).repositories.length, 1);
    assert.match(String(page.headers.link), /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });
});
