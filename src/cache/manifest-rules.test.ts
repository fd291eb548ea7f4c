// The manifest rules of the cache, through a whole gateway in memory against an in-process fake
// upstream: the tag TTL, HEAD revalidation, stale-if-error within maxStale, the negative cache.
// TTLs that must pass are tiny and the tests wait for the clock itself to pass them (the TTL
// elapsing is the subject); nothing waits a fixed time for something else to happen.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream, refusedUrl } from '../testing/fake-upstream.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';
import { waitFor } from '../testing/wait.js';

const ACCEPT = { accept: 'application/vnd.oci.image.manifest.v1+json' };

/** Resolves once the wall clock is `ms` past `since`: the TTL under test has elapsed. */
const elapsed = (since: number, ms: number) => waitFor(() => Date.now() > since + ms, `${ms} ms to pass (a TTL under test)`, ms + 10_000);

describe('manifest rules (unit: memory store, fake upstream)', () => {
  let up: FakeUpstream;
  let gw: UnitGateway;
  let down: string;
  before(async () => {
    up = await FakeUpstream.start();
    down = await refusedUrl();
    gw = await unitGateway({
      registries: {
        'ttl.test': upstreams([up.url], { tagTtl: '5m' }),
        'short.test': upstreams([up.url], { tagTtl: '30ms', maxStale: '10m' }),
        'brief.test': upstreams([up.url], { tagTtl: '10ms', maxStale: '150ms' }),
        'neg.test': upstreams([up.url], { negativeTtl: '5m' }),
        'negshort.test': upstreams([up.url], { negativeTtl: '40ms' }),
        'nonneg.test': upstreams([up.url], { negativeTtl: 0 }),
        'down.test': upstreams([down]),
      },
    });
  });
  after(async () => { await gw?.stop(); await up?.stop(); });

  it('inside the tag TTL a tag is served from the cache without any upstream call', async () => {
    const img = up.image('app/ttl', 'v1');
    const first = await gw.call('GET', '/v2/ttl.test/app/ttl/manifests/v1', ACCEPT);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['x-regway-cache'], 'miss');
    assert.equal(first.headers['docker-content-digest'], img.digest);
    const before = up.requests.length;
    for (let i = 0; i < 5; i++) {
      const again = await gw.call(i % 2 ? 'HEAD' : 'GET', '/v2/ttl.test/app/ttl/manifests/v1', ACCEPT);
      assert.equal(again.statusCode, 200);
      assert.equal(again.headers['x-regway-cache'], 'hit');
      assert.equal(again.headers['docker-content-digest'], img.digest);
    }
    assert.equal(up.requests.length, before, 'no upstream request inside the TTL');
    // Even when the upstream moved the tag: inside the TTL the cached mapping stands.
    up.image('app/ttl', 'v1', { seed: 'moved' });
    assert.equal((await gw.call('GET', '/v2/ttl.test/app/ttl/manifests/v1', ACCEPT)).headers['docker-content-digest'], img.digest);
    assert.equal(up.requests.length, before);
  });

  it('after the TTL one HEAD revalidates: same digest is served from the cache, no GET', async () => {
    const img = up.image('app/reval', 'v1');
    const path = '/v2/app/reval/manifests/v1';
    const first = await gw.call('GET', '/v2/short.test/app/reval/manifests/v1', ACCEPT);
    assert.equal(first.headers['x-regway-cache'], 'miss');
    await elapsed(Date.now(), 30);
    const r = await gw.call('GET', '/v2/short.test/app/reval/manifests/v1', ACCEPT);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['x-regway-cache'], 'revalidated');
    assert.equal(r.headers['docker-content-digest'], img.digest);
    assert.ok(r.rawPayload.equals(img.manifest), 'the cached bytes, byte for byte');
    assert.equal(up.count('HEAD', path), 1, 'one HEAD');
    assert.equal(up.count('GET', path), 1, 'only the first GET');
  });

  it('after the TTL a tag the upstream moved is fetched again', async () => {
    const old = up.image('app/moved', 'v1');
    const path = '/v2/app/moved/manifests/v1';
    assert.equal((await gw.call('GET', '/v2/short.test/app/moved/manifests/v1', ACCEPT)).headers['docker-content-digest'], old.digest);
    const moved = up.image('app/moved', 'v1', { seed: 'second build' });
    assert.notEqual(moved.digest, old.digest);
    await elapsed(Date.now(), 30);
    const r = await gw.call('GET', '/v2/short.test/app/moved/manifests/v1', ACCEPT);
    assert.equal(r.headers['docker-content-digest'], moved.digest);
    assert.equal(r.headers['x-regway-cache'], 'miss');
    assert.ok(r.rawPayload.equals(moved.manifest), 'r.rawPayload.equals(moved.manifest)');
    assert.equal(up.count('HEAD', path), 1);
    assert.equal(up.count('GET', path), 2, 'the changed digest was fetched');
    // And the new mapping is cached in turn: by digest it needs no upstream.
    const byDigest = await gw.call('GET', `/v2/short.test/app/moved/manifests/${moved.digest}`, ACCEPT);
    assert.equal(byDigest.headers['x-regway-cache'], 'hit');
  });

  it('when every upstream fails, a tag within maxStale is served stale with Warning 299', async () => {
    const img = up.image('app/stale', 'v1');
    assert.equal((await gw.call('GET', '/v2/short.test/app/stale/manifests/v1', ACCEPT)).statusCode, 200);
    up.script({ path: /\/app\/stale\/manifests\//, times: Infinity, fault: { status: 503 } });
    try {
      await elapsed(Date.now(), 30);
      for (const method of ['GET', 'HEAD']) {
        const r = await gw.call(method, '/v2/short.test/app/stale/manifests/v1', ACCEPT);
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.headers['x-regway-cache'], 'stale');
        assert.match(String(r.headers.warning), /^299 - "/);
        assert.equal(r.headers['docker-content-digest'], img.digest, 'the digest last confirmed, never invented');
        if (method === 'GET') assert.ok(r.rawPayload.equals(img.manifest), 'r.rawPayload.equals(img.manifest)');
      }
      assert.ok(gw.logs.some((l) => /serving the last known tag mapping \(stale\)/.test(l.msg)), 'a stale answer is logged');
    } finally { up.heal(); }
  });

  it('beyond maxStale a failing upstream is the answer, not the old mapping', async () => {
    up.image('app/expired', 'v1');
    assert.equal((await gw.call('GET', '/v2/brief.test/app/expired/manifests/v1', ACCEPT)).statusCode, 200);
    const fetched = Date.now(); // the mapping was confirmed before this
    up.script({ path: /\/app\/expired\/manifests\//, times: Infinity, fault: { status: 503 } });
    try {
      await elapsed(fetched, 200);
      const r = await gw.call('GET', '/v2/brief.test/app/expired/manifests/v1', ACCEPT);
      assert.equal(r.statusCode, 502, r.body);
      assert.equal(JSON.parse(r.body).errors[0].code, 'UPSTREAM_UNAVAILABLE');
      assert.equal(r.headers.warning, undefined);
    } finally { up.heal(); }
  });

  it('a storm of requests for a missing tag costs one upstream call for negativeTtl', async () => {
    const path = '/v2/app/neg/manifests/nope';
    up.image('app/neg', 'exists');
    const storm = await Promise.all(Array.from({ length: 20 }, (_, i) => gw.call(i % 3 ? 'GET' : 'HEAD', '/v2/neg.test/app/neg/manifests/nope', ACCEPT)));
    for (const r of storm) assert.equal(r.statusCode, 404);
    for (let i = 0; i < 5; i++) {
      const r = await gw.call('GET', '/v2/neg.test/app/neg/manifests/nope', ACCEPT);
      assert.equal(r.statusCode, 404);
      assert.equal(JSON.parse(r.body).errors[0].code, 'MANIFEST_UNKNOWN');
    }
    assert.equal(up.count('GET', path) + up.count('HEAD', path), 1, 'one upstream call for 25 requests');
  });

  it('after negativeTtl the origin is asked again (and a tag pushed meanwhile is found)', async () => {
    const path = '/v2/app/negshort/manifests/later';
    assert.equal((await gw.call('GET', '/v2/negshort.test/app/negshort/manifests/later', ACCEPT)).statusCode, 404);
    const first = Date.now(); // the 404 was remembered before this
    const img = up.image('app/negshort', 'later');
    assert.equal((await gw.call('GET', '/v2/negshort.test/app/negshort/manifests/later', ACCEPT)).statusCode, 404, 'still remembered');
    await elapsed(first, 40);
    const r = await gw.call('GET', '/v2/negshort.test/app/negshort/manifests/later', ACCEPT);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['docker-content-digest'], img.digest);
    assert.equal(up.count('GET', path), 2);
  });

  it('negativeTtl 0 remembers nothing: every request asks the origin', async () => {
    const path = '/v2/app/nonneg/manifests/nope';
    for (let i = 0; i < 3; i++) assert.equal((await gw.call('GET', '/v2/nonneg.test/app/nonneg/manifests/nope', ACCEPT)).statusCode, 404);
    assert.equal(up.count('GET', path), 3);
  });

  it('a failing upstream is not a missing tag: nothing is remembered, and uncached content is a 502', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await gw.call('GET', '/v2/down.test/app/x/manifests/v1', ACCEPT);
      assert.equal(r.statusCode, 502);
      const err = JSON.parse(r.body).errors[0];
      assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
      assert.match(JSON.stringify(err.detail), /unreachable/, 'every attempt is in the detail');
    }
  });
});
