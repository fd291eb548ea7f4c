// The blob rules of the cache, through a whole gateway in memory against in-process fake
// upstreams: one upstream GET for concurrent misses, a cut stream resumed from the next upstream
// with Range, wrong bytes never given a clean end, and the next pull exact.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream, refusedUrl } from '../testing/fake-upstream.js';
import { patterned, sha256 } from '../testing/fake-registry.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';
import { waitFor } from '../testing/wait.js';

describe('blob rules (unit: memory store, fake upstreams)', () => {
  let mirror: FakeUpstream;
  let origin: FakeUpstream;
  let gw: UnitGateway;
  before(async () => {
    [mirror, origin] = await Promise.all([FakeUpstream.start(), FakeUpstream.start()]);
    gw = await unitGateway({
      registries: {
        'one.test': upstreams([origin.url]),
        'two.test': upstreams([mirror.url, origin.url]),
        'gone.test': upstreams([await refusedUrl()]),
      },
    });
  });
  after(async () => { await gw?.stop(); await mirror?.stop(); await origin?.stop(); });

  /** The same blob in both upstreams' copy of the repository. */
  const both = (repo: string, bytes: Buffer) => { mirror.blob(repo, bytes); return origin.blob(repo, bytes); };

  it('N concurrent misses of one blob cost one upstream GET, and every client gets the whole blob', async () => {
    const bytes = patterned(300_000, 'coalesce');
    const digest = origin.blob('app/co', bytes);
    // The upstream holds its answer back, so every client arrives while the one download is under way.
    origin.script({ method: 'GET', path: `/v2/app/co/blobs/${digest}`, fault: { delay: 300 } });
    const all = await Promise.all(Array.from({ length: 8 }, () => gw.call('GET', `/v2/one.test/app/co/blobs/${digest}`)));
    for (const r of all) {
      assert.equal(r.statusCode, 200);
      assert.ok(r.rawPayload.equals(bytes), 'the whole blob');
    }
    assert.equal(origin.count('GET', `/v2/app/co/blobs/${digest}`), 1, 'one upstream GET');
    const results = all.map((r) => r.headers['x-regway-cache']).sort();
    assert.deepEqual(results, ['coalesced', 'coalesced', 'coalesced', 'coalesced', 'coalesced', 'coalesced', 'coalesced', 'miss']);
    const later = await gw.call('GET', `/v2/one.test/app/co/blobs/${digest}`);
    assert.equal(later.headers['x-regway-cache'], 'hit');
    assert.equal(origin.count('GET', `/v2/app/co/blobs/${digest}`), 1);
  });

  it('a Range request on a miss is answered from the one download', async () => {
    const bytes = patterned(50_000, 'range-miss');
    const digest = origin.blob('app/rm', bytes);
    const r = await gw.call('GET', `/v2/one.test/app/rm/blobs/${digest}`, { range: 'bytes=100-199' });
    assert.equal(r.statusCode, 206);
    assert.equal(r.headers['content-range'], `bytes 100-199/${bytes.length}`);
    assert.ok(r.rawPayload.equals(bytes.subarray(100, 200)), 'r.rawPayload.equals(bytes.subarray(100, 200))');
  });

  it('a stream cut mid-way continues from the next upstream with Range; the client sees one stream', async () => {
    const bytes = patterned(400_000, 'resume');
    const digest = both('app/resume', bytes);
    mirror.script({ method: 'GET', path: `/v2/app/resume/blobs/${digest}`, fault: { cut: 150_000 } });
    const r = await gw.call('GET', `/v2/two.test/app/resume/blobs/${digest}`);
    assert.equal(r.statusCode, 200);
    assert.ok(r.rawPayload.equals(bytes), 'exactly the blob');
    assert.equal(mirror.count('GET', `/v2/app/resume/blobs/${digest}`), 1);
    const resumed = origin.requests.filter((q) => q.method === 'GET' && q.path.endsWith(digest));
    assert.equal(resumed.length, 1, 'the origin was asked once, for the rest');
    const from = Number(/^bytes=(\d+)-$/.exec(String(resumed[0]!.headers.range))?.[1]);
    assert.ok(from > 0 && from <= 150_000, `resumed at the bytes received (${resumed[0]!.headers.range})`);
  });

  it('a resume from an upstream that ignores Range skips the bytes already written', async () => {
    const bytes = patterned(200_000, 'ignore-range');
    const digest = both('app/norange', bytes);
    mirror.script({ method: 'GET', path: `/v2/app/norange/blobs/${digest}`, fault: { cut: 70_000 } });
    origin.ignoreRange = true;
    try {
      const r = await gw.call('GET', `/v2/two.test/app/norange/blobs/${digest}`);
      assert.equal(r.statusCode, 200);
      assert.ok(r.rawPayload.equals(bytes), 'r.rawPayload.equals(bytes)');
    } finally { origin.ignoreRange = false; }
  });

  it('wrong bytes abort the readers (never a clean end), nothing is kept, and the next pull is exact', async () => {
    const bytes = patterned(120_000, 'mismatch');
    const digest = origin.blob('app/bad', bytes);
    origin.script({ method: 'GET', path: `/v2/app/bad/blobs/${digest}`, fault: { wrongBytes: true } });
    // The status went out before the digest could be checked: the body is aborted, never ended.
    await assert.rejects(gw.call('GET', `/v2/one.test/app/bad/blobs/${digest}`), (e: Error & { code?: string }) => e.code === 'LIGHT_ECONNRESET');
    await waitFor(() => gw.inflight.size === 0, 'the failed download to be dropped', 10_000, { seen: () => `${gw.inflight.size} downloads` });
    const head = await gw.call('HEAD', `/v2/one.test/app/bad/blobs/${digest}`);
    assert.equal(head.headers['x-regway-cache'], 'miss', 'the wrong bytes were not kept');
    const good = await gw.call('GET', `/v2/one.test/app/bad/blobs/${digest}`);
    assert.equal(good.statusCode, 200);
    assert.ok(good.rawPayload.equals(bytes), 'the next pull is exact');
    assert.equal(origin.count('GET', `/v2/app/bad/blobs/${digest}`), 2);
  });

  it('wrong bytes from a mirror: the download starts over at byte 0 on the next upstream', async () => {
    const bytes = patterned(90_000, 'mismatch-two');
    const digest = both('app/bad2', bytes);
    mirror.script({ method: 'GET', path: `/v2/app/bad2/blobs/${digest}`, fault: { wrongBytes: true } });
    // The first client followed the wrong bytes: it is aborted; the download goes on elsewhere.
    await assert.rejects(gw.call('GET', `/v2/two.test/app/bad2/blobs/${digest}`), (e: Error & { code?: string }) => e.code === 'LIGHT_ECONNRESET');
    await waitFor(() => gw.inflight.size === 0, 'the restarted download to finish');
    const refetch = origin.requests.filter((q) => q.method === 'GET' && q.path.endsWith(digest));
    assert.equal(refetch.length, 1);
    assert.equal(refetch[0]!.headers.range, undefined, 'from byte 0: nothing of the wrong bytes is kept');
    const r = await gw.call('GET', `/v2/two.test/app/bad2/blobs/${digest}`);
    assert.equal(r.headers['x-regway-cache'], 'hit');
    assert.ok(r.rawPayload.equals(bytes), 'r.rawPayload.equals(bytes)');
    assert.equal(mirror.count('GET', `/v2/app/bad2/blobs/${digest}`), 1, 'the mirror was not asked again');
  });

  it('HEAD of an uncached blob asks the upstream HEAD, never downloads', async () => {
    const bytes = patterned(10_000, 'head');
    const digest = origin.blob('app/head', bytes);
    const r = await gw.call('HEAD', `/v2/one.test/app/head/blobs/${digest}`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-length'], String(bytes.length));
    assert.equal(r.rawPayload.length, 0);
    assert.equal(origin.count('GET', `/v2/app/head/blobs/${digest}`), 0);
    assert.equal(origin.count('HEAD', `/v2/app/head/blobs/${digest}`), 1);
  });

  it('no upstream reachable: an uncached blob is a 502 naming the attempts', async () => {
    const r = await gw.call('GET', `/v2/gone.test/app/x/blobs/${sha256(Buffer.from('nothing'))}`);
    assert.equal(r.statusCode, 502);
    assert.equal(JSON.parse(r.body).errors[0].code, 'UPSTREAM_UNAVAILABLE');
  });

  it('a damaged stored blob that cannot be removed is never served: the storage error, not the damaged bytes', async () => {
    const bytes = patterned(50_000, 'damaged');
    const digest = origin.blob('app/dmg', bytes);
    const first = await gw.call('GET', `/v2/one.test/app/dmg/blobs/${digest}`);
    assert.equal(first.statusCode, 200);
    await waitFor(() => gw.inflight.size === 0, 'the download to be committed and linked');
    const driver = gw.cache.driver;
    let key: string | undefined;
    for await (const e of driver.list('blobs')) if (e.key.endsWith(digest.slice('sha256:'.length))) key = e.key;
    assert.ok(key, 'the blob is in the store');
    await driver.put(key, bytes.subarray(0, 1000)); // cut short: its size is not the recorded one
    const del = driver.delete.bind(driver);
    driver.delete = async () => { throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }); };
    try {
      const r = await gw.call('GET', `/v2/one.test/app/dmg/blobs/${digest}`);
      assert.equal(r.statusCode, 500, `the storage error, not the damaged blob: ${r.statusCode} ${r.body.slice(0, 200)}`);
      assert.match(r.body, /STORAGE_ERROR/);
    } finally { driver.delete = del; }
    const again = await gw.call('GET', `/v2/one.test/app/dmg/blobs/${digest}`);
    assert.equal(again.statusCode, 200);
    assert.ok(again.rawPayload.equals(bytes), 'once it can be removed, it is fetched again and exact');
  });

  it('a 206 to a whole-blob GET is refused before the client is answered: the next upstream serves it whole', async () => {
    const bytes = patterned(60_000, 'partial-206');
    const digest = both('app/p206', bytes);
    mirror.script({ method: 'GET', path: `/v2/app/p206/blobs/${digest}`, fault: { status: 206, headers: { 'content-range': `bytes 0-29999/60000` }, body: bytes.subarray(0, 30_000).toString('latin1') } });
    const r = await gw.call('GET', `/v2/two.test/app/p206/blobs/${digest}`);
    assert.equal(r.statusCode, 200);
    assert.ok(r.rawPayload.equals(bytes), 'the first client gets the whole blob, not half of it then an abort');
    assert.equal(origin.count('GET', `/v2/app/p206/blobs/${digest}`), 1, 'from the next upstream');
  });
});
