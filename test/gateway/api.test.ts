// The OCI distribution API, pull side, through regway in front of a real CNCF distribution.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, pushReferrer, type PushedImage, type PushedIndex, sha256 as sha } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const ALL = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const r = await request(url, { method, headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, json: () => JSON.parse(body.toString()) };
}

describe('pull-side API through the gateway', () => {
  let up: Distribution;
  let gw: TestGateway;
  let img: PushedImage;
  let idx: PushedIndex;
  let base: string;

  before(async () => {
    up = await startDistribution();
    img = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 1 << 20 });
    idx = await pushIndex(up.url, 'team/multi', 'v2', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], { layers: 1, layerSize: 200_000 });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await pushImage(up.url, 'team/tags', t, { layers: 1, layerSize: 1000 });
    gw = await startGateway({ registries: { [up.host]: [up.url] } });
    base = `${gw.url}/v2`;
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  const ns = () => `ns=${encodeURIComponent(up.host)}`;

  it('GET /v2/ answers 200 with the API version header', async () => {
    const r = await get(`${base}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('serves a manifest by tag byte for byte, with digest, type and length as the upstream sent them', async () => {
    const r = await get(`${base}/team/app/manifests/v1?${ns()}`, { accept: ALL });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(img.manifest));
    assert.equal(r.headers['docker-content-digest'], img.manifestDigest);
    assert.equal(r.headers['content-type'], img.mediaType);
    assert.equal(Number(r.headers['content-length']), img.manifest.length);
    assert.equal(r.headers['oci-namespace'], up.host);
  });

  it('HEAD gives the same headers as GET and a real Content-Length, no body', async () => {
    const r = await get(`${base}/team/app/manifests/${img.manifestDigest}?${ns()}`, { accept: ALL }, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(Number(r.headers['content-length']), img.manifest.length);
    assert.equal(r.headers['docker-content-digest'], img.manifestDigest);
    assert.equal(r.headers['content-type'], img.mediaType);
  });

  it('serves an index and its children by digest; a second tag read is a cache hit', async () => {
    const r = await get(`${base}/team/multi/manifests/v2?${ns()}`, { accept: ALL });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(idx.manifest));
    assert.equal(r.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
    for (const c of idx.children) {
      const m = await get(`${base}/team/multi/manifests/${c.manifestDigest}?${ns()}`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
      assert.equal(m.status, 200);
      assert.equal(sha(m.body), c.manifestDigest);
    }
    const again = await get(`${base}/team/multi/manifests/v2?${ns()}`, { accept: ALL });
    assert.equal(again.headers['x-regway-cache'], 'hit');
  });

  it('refuses to serve a manifest type the client does not accept (no conversion)', async () => {
    const r = await get(`${base}/team/multi/manifests/v2?${ns()}`, { accept: 'application/vnd.docker.distribution.manifest.v2+json' });
    assert.equal(r.status, 404);
    assert.equal(r.json().errors[0].code, 'MANIFEST_UNKNOWN');
  });

  it('serves blobs whole and by Range (206), and 416 past the end', async () => {
    const layer = img.layers[0]!;
    const full = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`);
    assert.equal(full.status, 200);
    assert.equal(sha(full.body), layer.digest);
    const part = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`, { range: 'bytes=10-109' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-109/${layer.size}`);
    assert.ok(part.body.equals(full.body.subarray(10, 110)));
    const bad = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`, { range: `bytes=${layer.size}-` });
    assert.equal(bad.status, 416);
    const head = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`, {}, 'HEAD');
    assert.equal(Number(head.headers['content-length']), layer.size);
  });

  it('answers a Range request on a cold blob correctly', async () => {
    const layer = img.layers[1]!;
    const part = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`, { range: 'bytes=1000-1999' });
    assert.equal(part.status, 206);
    assert.equal(part.body.length, 1000);
    const full = await get(`${base}/team/app/blobs/${layer.digest}?${ns()}`);
    assert.ok(part.body.equals(full.body.subarray(1000, 2000)));
  });

  it('addresses registries by ns, by host path segment, and refuses unknown registries', async () => {
    // Host as first path segment needs a dotted host without a port: map one to the same upstream.
    const gw2 = await startGateway({ registries: { 'registry.example.com': [up.url] } });
    try {
      const r = await get(`${gw2.url}/v2/registry.example.com/team/app/manifests/v1`, { accept: ALL });
      assert.equal(r.status, 200);
      assert.equal(r.headers['docker-content-digest'], img.manifestDigest);
      const unknown = await get(`${gw2.url}/v2/ghcr.io/team/app/manifests/v1`, { accept: ALL });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json().errors[0].code, 'NAME_UNKNOWN');
      const byNs = await get(`${gw2.url}/v2/team/app/manifests/v1?ns=evil.example.org`, { accept: ALL });
      assert.equal(byNs.json().errors[0].code, 'NAME_UNKNOWN');
    } finally { await gw2.stop(); }
  });

  it('lists tags with n/last pagination and a Link header', async () => {
    const all = await get(`${base}/team/tags/tags/list?${ns()}`);
    assert.deepEqual(all.json().tags, ['a', 'b', 'c', 'd', 'e']);
    const p1 = await get(`${base}/team/tags/tags/list?${ns()}&n=2`);
    assert.deepEqual(p1.json().tags, ['a', 'b']);
    assert.match(String(p1.headers.link), /<\/v2\/team\/tags\/tags\/list\?n=2&last=b&ns=[^>]+>; rel="next"/);
    const p2 = await get(`${base}/team/tags/tags/list?${ns()}&n=2&last=b`);
    assert.deepEqual(p2.json().tags, ['c', 'd']);
    const p3 = await get(`${base}/team/tags/tags/list?${ns()}&n=2&last=d`);
    assert.deepEqual(p3.json().tags, ['e']);
    assert.equal(p3.headers.link, undefined);
    const zero = await get(`${base}/team/tags/tags/list?${ns()}&n=0`);
    assert.deepEqual(zero.json().tags, []);
    assert.equal(zero.headers.link, undefined);
    const bad = await get(`${base}/team/tags/tags/list?${ns()}&n=-1`);
    assert.equal(bad.status, 400);
  });

  it('lists what is cached in the catalog', async () => {
    const r = await get(`${base}/_catalog`);
    const repos: string[] = r.json().repositories;
    assert.ok(repos.includes(`${up.host}/team/app`), JSON.stringify(repos));
    assert.ok(repos.includes(`${up.host}/team/multi`));
  });

  it('serves referrers with artifactType filtering', async () => {
    const ref1 = await pushReferrer(up.url, 'team/app', img.manifestDigest, 'application/vnd.example.sbom');
    const ref2 = await pushReferrer(up.url, 'team/app', img.manifestDigest, 'application/vnd.example.sig');
    // distribution 2.8 has no referrers API (404), so the gateway answers from the referrers it has
    // cached: pull them through it first, as a client that knows their digests would.
    for (const r of [ref1, ref2]) assert.equal((await get(`${base}/team/app/manifests/${r.digest}?${ns()}`, { accept: ALL })).status, 200);
    const all = await get(`${base}/team/app/referrers/${img.manifestDigest}?${ns()}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
    const m = all.json().manifests as { digest: string; artifactType: string }[];
    assert.equal(m.length, 2);
    const f = await get(`${base}/team/app/referrers/${img.manifestDigest}?${ns()}&artifactType=${encodeURIComponent('application/vnd.example.sbom')}`);
    assert.equal(f.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(f.json().manifests.map((x: { digest: string }) => x.digest), [ref1.digest]);
    const none = await get(`${base}/team/app/referrers/sha256:${'0'.repeat(64)}?${ns()}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json().manifests, []);
  });

  it('unknown manifests and blobs are MANIFEST_UNKNOWN / BLOB_UNKNOWN', async () => {
    const m = await get(`${base}/team/app/manifests/nope?${ns()}`, { accept: ALL });
    assert.equal(m.status, 404);
    assert.equal(m.json().errors[0].code, 'MANIFEST_UNKNOWN');
    const b = await get(`${base}/team/app/blobs/sha256:${'1'.repeat(64)}?${ns()}`);
    assert.equal(b.status, 404);
    assert.equal(b.json().errors[0].code, 'BLOB_UNKNOWN');
  });

  it('refuses pushes to proxied namespaces with UNSUPPORTED', async () => {
    const r = await request(`${base}/team/app/blobs/uploads/?${ns()}`, { method: 'POST' });
    assert.equal(r.statusCode, 405);
    assert.equal((await r.body.json() as { errors: { code: string }[] }).errors[0]!.code, 'UNSUPPORTED');
  });
});
