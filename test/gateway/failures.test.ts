// Failure handling: broken and wrong upstream bytes are never served as complete nor kept; bad
// input gets spec error codes and never touches a path outside storage.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, Client } from 'undici';
import { startFaultyUpstream, type FaultyUpstream } from '../helpers/faulty-upstream.js';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/** Reads a body; resolves with how it ended: 'end' (clean) or 'aborted'. */
async function fetchBody(url: string): Promise<{ status: number; ended: 'end' | 'aborted'; bytes: Buffer }> {
  const r = await request(url);
  const chunks: Buffer[] = [];
  try { for await (const c of r.body) chunks.push(c as Buffer); return { status: r.statusCode, ended: 'end', bytes: Buffer.concat(chunks) }; } catch {
    return { status: r.statusCode, ended: 'aborted', bytes: Buffer.concat(chunks) };
  }
}

function storedBlobs(storage: string): string[] {
  const dir = join(storage, 'blobs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('upstream failures', () => {
  let up: FaultyUpstream;
  let gw: TestGateway;
  before(async () => {
    up = await startFaultyUpstream();
    gw = await startGateway({ registries: { [up.host]: [up.url] } });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  for (const fault of ['cut', 'corrupt'] as const) {
    it(`upstream ${fault === 'cut' ? 'closing mid-stream' : 'sending wrong bytes'}: every client is aborted, nothing is cached`, async () => {
      const data = randomBytes(2 * 1024 * 1024);
      const digest = up.addBlob(data);
      up.setFault(fault);
      const url = `${gw.url}/v2/x/y/blobs/${digest}?ns=${up.host}`;
      const results = await Promise.all([fetchBody(url), fetchBody(url), fetchBody(url)]);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(r.ended, 'aborted', 'the client must not see a clean end');
        assert.ok(r.bytes.length < data.length || !r.bytes.equals(data));
      }
      // The fetch finishes cleaning up just after the clients are aborted.
      await gw.inflight.drain(2000); // the fetch aborts its temp file before it settles
      assert.ok(!storedBlobs(gw.storage).includes(digest.slice(7)), 'a bad blob must not be kept');
      assert.deepEqual(readdirSync(join(gw.storage, '_tmp')), [], 'no temp file left behind');
      // Once the upstream behaves, the same blob is fetched and served correctly.
      up.setFault('none');
      const ok = await fetchBody(url);
      assert.equal(ok.ended, 'end');
      assert.ok(ok.bytes.equals(data));
      // Clients finish once the digest is verified; the commit (fsync, rename) follows.
      await gw.inflight.drain(2000);
      assert.ok(storedBlobs(gw.storage).includes(digest.slice(7)));
    });
  }
});

describe('bad names, references and digests', () => {
  let gw: TestGateway;
  let upHost: string;
  before(async () => {
    upHost = '127.0.0.1:9';
    gw = await startGateway({ registries: { [upHost]: ['http://127.0.0.1:9'] } });
  });
  after(async () => { await gw?.stop(); });

  const cases: [string, number, string][] = [
    ['/v2/../../etc/manifests/latest', 400, 'NAME_INVALID'],
    ['/v2/a/%2e%2e/%2e%2e/b/manifests/latest', 400, 'NAME_INVALID'],
    ['/v2/Upper/Case/manifests/latest', 400, 'NAME_INVALID'],
    [`/v2/${'a'.repeat(256)}/manifests/latest`, 400, 'NAME_INVALID'],
    // A read of a tag outside the grammar is a tag no repository has (the conformance suite wants 404).
    ['/v2/ok/name/manifests/..', 404, 'MANIFEST_UNKNOWN'],
    [`/v2/ok/name/manifests/${'t'.repeat(129)}`, 404, 'MANIFEST_UNKNOWN'],
    ['/v2/ok/name/blobs/sha256:..%2F..%2Fetc', 400, 'DIGEST_INVALID'],
    ['/v2/ok/name/blobs/sha256:ABCDEF', 400, 'DIGEST_INVALID'],
    // Grammar-valid, algorithm unsupported: on a read that is content we can never have (404).
    [`/v2/ok/name/blobs/md5:${'a'.repeat(32)}`, 404, 'BLOB_UNKNOWN'],
    [`/v2/ok/name/blobs/sha256:${'A'.repeat(64)}`, 400, 'DIGEST_INVALID'],
    [`/v2/ok/name/blobs/sha256:${'a'.repeat(63)}`, 400, 'DIGEST_INVALID'],
    [`/v2/ok/name/manifests/sha256:${'g'.repeat(64)}`, 400, 'DIGEST_INVALID'],
    ['/v2/ok/name/manifests/latest?ns=..%2F..', 400, 'NAME_INVALID'],
  ];
  for (const [path, status, code] of cases) {
    it(`${path.slice(0, 70)} -> ${status} ${code}`, async () => {
      // A raw path: URL parsing in the client would resolve the dot segments before sending.
      const client = new Client(gw.url);
      const raw = path.includes('ns=') ? path : `${path}?ns=${upHost}`;
      const r = await client.request({ method: 'GET', path: raw });
      const body = await r.body.json() as { errors: { code: string }[] };
      assert.equal(r.statusCode, status);
      assert.equal(body.errors[0]!.code, code);
      await client.close();
    });
  }

  it('an upstream that is down gives UPSTREAM_UNAVAILABLE for uncached content', async () => {
    const r = await request(`${gw.url}/v2/ok/name/manifests/latest?ns=${upHost}`);
    assert.equal(r.statusCode, 502);
    assert.equal((await r.body.json() as { errors: { code: string }[] }).errors[0]!.code, 'UPSTREAM_UNAVAILABLE');
  });

  it('nothing outside storage was created', () => {
    const top = readdirSync(gw.storage).sort();
    // _obs holds the gateway's own state (SLO buckets), _index the cache index and maintenance the
    // store's id (which store the index describes): inside storage by design.
    assert.deepEqual(top.filter((e) => !['_tmp', '_obs', '_index', 'maintenance', 'blobs', 'repositories'].includes(e)), []);
  });
});

describe('upstream down at start', () => {
  it('the gateway starts and serves what it cached while every upstream is down', async () => {
    const up = await startDistribution();
    const img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 100_000 });
    const storage = mkdtempSync(join(tmpdir(), 'regway-down-'));
    const first = await startGateway({ registries: { [up.host]: [up.url] }, storage, tagTtl: '0s' });
    const q = `ns=${up.host}`;
    const accept = { accept: img.mediaType };
    assert.equal((await request(`${first.url}/v2/team/app/manifests/v1?${q}`, { headers: accept })).statusCode, 200);
    assert.equal((await fetchBody(`${first.url}/v2/team/app/blobs/${img.layers[0]!.digest}?${q}`)).ended, 'end');
    await first.stop();
    await up.stop();

    const gw = await startGateway({ registries: { [up.host]: [up.url] }, storage, tagTtl: '0s' });
    try {
      const tag = await request(`${gw.url}/v2/team/app/manifests/v1?${q}`, { headers: accept });
      const bytes = Buffer.from(await tag.body.arrayBuffer());
      assert.equal(tag.statusCode, 200);
      assert.equal(tag.headers['x-regway-cache'], 'stale');
      assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, img.manifestDigest);
      const blob = await fetchBody(`${gw.url}/v2/team/app/blobs/${img.layers[0]!.digest}?${q}`);
      assert.equal(blob.ended, 'end');
      assert.equal(`sha256:${createHash('sha256').update(blob.bytes).digest('hex')}`, img.layers[0]!.digest);
      const missing = await request(`${gw.url}/v2/team/app/manifests/v2?${q}`, { headers: accept });
      assert.equal(missing.statusCode, 502);
    } finally { await gw.stop(); rmSync(storage, { recursive: true, force: true }); }
  });
});

