// The README's fall-through table, row by row, through a whole gateway in memory: what makes the
// gateway ask the next upstream, and what is the answer. Each case has its own registry (its own
// upstream clients and circuit breakers), so no case sees another's failures.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream, refusedUrl, type Fault } from '../testing/fake-upstream.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';
import type { ConfigInput } from '../config/schema.js';

const ACCEPT = { accept: 'application/vnd.oci.image.manifest.v1+json' };

describe('fall-through rules (unit: memory store, fake upstreams)', () => {
  let mirror: FakeUpstream;
  let origin: FakeUpstream;
  let gw: UnitGateway;
  let refused: string;
  const registries: NonNullable<ConfigInput['registries']> = {};
  /** A registry of its own for one case: mirror then origin (or the given URLs). */
  const reg = (name: string, urls?: string[], timeouts?: Record<string, string>) => {
    registries[`${name}.test`] = upstreams(urls ?? [mirror.url, origin.url], {}, timeouts ? { timeouts } : {});
    return `${name}.test`;
  };
  const cases: { row: string; fault?: Fault; expect: 'origin' | number; mirrorAsked?: number }[] = [
    { row: 'mirror answers 500', fault: { status: 500 }, expect: 'origin' },
    { row: 'mirror answers 503', fault: { status: 503 }, expect: 'origin' },
    { row: 'mirror answers 404', fault: { status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}' }, expect: 'origin' },
    { row: 'mirror answers 401', fault: { status: 401 }, expect: 'origin' },
    { row: 'mirror answers 403', fault: { status: 403 }, expect: 'origin' },
    { row: 'mirror resets the connection', fault: { reset: true }, expect: 'origin' },
    { row: 'mirror sends a manifest cut short', fault: { cut: 10 }, expect: 'origin' },
  ];

  before(async () => {
    [mirror, origin] = await Promise.all([FakeUpstream.start(), FakeUpstream.start()]);
    refused = await refusedUrl();
    for (const [i] of cases.entries()) reg(`case${i}`);
    reg('refused', [refused, origin.url]);
    reg('slow', [mirror.url, origin.url], { headers: '150ms' });
    reg('silent', [mirror.url, origin.url], { idle: '150ms' });
    reg('limited');
    reg('alllimited');
    reg('final');
    reg('originfirst');
    reg('origin5xx', [origin.url]);
    reg('blob');
    // An origin listed first: its answer is final even with a mirror after it.
    registries['originfirst.test'] = { upstreams: [{ url: origin.url, role: 'origin' }, { url: mirror.url, role: 'mirror' }] };
    gw = await unitGateway({ registries });
  });
  after(async () => { await gw?.stop(); await mirror?.stop(); await origin?.stop(); });

  /** The same image on both upstreams. */
  const image = (repo: string) => { mirror.image(repo, 'v1'); return origin.image(repo, 'v1'); };
  const get = (registry: string, repo: string, ref = 'v1') => gw.call('GET', `/v2/${registry}/${repo}/manifests/${ref}`, ACCEPT);

  for (const [i, c] of cases.entries()) {
    it(`${c.row}: the next upstream is asked`, async () => {
      const repo = `app/case${i}`;
      const img = image(repo);
      mirror.script({ path: `/v2/${repo}/manifests/v1`, fault: c.fault! });
      const r = await get(`case${i}.test`, repo);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['docker-content-digest'], img.digest);
      assert.equal(mirror.count('GET', `/v2/${repo}/manifests/v1`), 1);
      assert.equal(origin.count('GET', `/v2/${repo}/manifests/v1`), 1);
    });
  }

  it('a refused connection: the next upstream is asked', async () => {
    const img = origin.image('app/refused', 'v1');
    const r = await get('refused.test', 'app/refused');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['docker-content-digest'], img.digest);
  });

  it('headers that do not come within the headers timeout: the next upstream is asked', async () => {
    const img = image('app/slow');
    // The delay is the fault: longer than the 150 ms headers timeout, so the mirror times out.
    mirror.script({ path: '/v2/app/slow/manifests/v1', fault: { delay: 3_000 } });
    const r = await get('slow.test', 'app/slow');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['docker-content-digest'], img.digest);
    assert.equal(origin.count('GET', '/v2/app/slow/manifests/v1'), 1);
  });

  it('a body that goes silent past the idle timeout: the next upstream is asked', async () => {
    const img = image('app/silent');
    mirror.script({ path: '/v2/app/silent/manifests/v1', fault: { stall: 5 } });
    const r = await get('silent.test', 'app/silent');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['docker-content-digest'], img.digest);
  });

  it('429: the next upstream is asked, and this one is skipped for its Retry-After', async () => {
    image('app/limited');
    image('app/limited2');
    mirror.script({ path: '/v2/app/limited/manifests/v1', fault: { status: 429, headers: { 'retry-after': '60' } } });
    assert.equal((await get('limited.test', 'app/limited')).statusCode, 200);
    assert.equal(origin.count('GET', '/v2/app/limited/manifests/v1'), 1);
    // Another image of the same registry: the mirror is inside its Retry-After window, not asked.
    const r = await get('limited.test', 'app/limited2');
    assert.equal(r.statusCode, 200);
    assert.equal(mirror.count('GET', '/v2/app/limited2/manifests/v1'), 0, 'skipped for its Retry-After');
    assert.equal(origin.count('GET', '/v2/app/limited2/manifests/v1'), 1);
  });

  it('every upstream answering 429: 429 with the shortest Retry-After, not a 502', async () => {
    image('app/alllimited');
    mirror.script({ path: '/v2/app/alllimited/manifests/v1', fault: { status: 429, headers: { 'retry-after': '120' } } });
    origin.script({ path: '/v2/app/alllimited/manifests/v1', fault: { status: 429, headers: { 'retry-after': '30' } } });
    const r = await get('alllimited.test', 'app/alllimited');
    assert.equal(r.statusCode, 429);
    assert.equal(JSON.parse(r.body).errors[0].code, 'TOOMANYREQUESTS');
    assert.equal(r.headers['retry-after'], '30');
  });

  it('the origin (last) answering 404 is the answer', async () => {
    const r = await get('final.test', 'app/final', 'missing');
    assert.equal(r.statusCode, 404);
    assert.equal(JSON.parse(r.body).errors[0].code, 'MANIFEST_UNKNOWN');
    assert.equal(mirror.count('GET', '/v2/app/final/manifests/missing'), 1, 'the mirror 404 fell through');
    assert.equal(origin.count('GET', '/v2/app/final/manifests/missing'), 1);
  });

  it("the origin's 404 is final even with a mirror after it", async () => {
    mirror.image('app/originfirst', 'v1');
    const r = await get('originfirst.test', 'app/originfirst');
    assert.equal(r.statusCode, 404);
    assert.equal(mirror.count('GET', '/v2/app/originfirst/manifests/v1'), 0, 'the mirror after the origin is not asked');
  });

  it('the origin (last) answering 5xx: 502 UPSTREAM_UNAVAILABLE naming the attempt', async () => {
    origin.script({ path: '/v2/app/o5xx/manifests/v1', fault: { status: 503 } });
    const r = await get('origin5xx.test', 'app/o5xx');
    assert.equal(r.statusCode, 502);
    const err = JSON.parse(r.body).errors[0];
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.match(JSON.stringify(err.detail.attempts), /HTTP 503/);
  });

  it('blobs fall through as manifests do: a mirror 404 sends the GET to the origin', async () => {
    const bytes = Buffer.from('a layer only the origin has');
    const digest = origin.blob('app/blob', bytes);
    const r = await gw.call('GET', `/v2/blob.test/app/blob/blobs/${digest}`);
    assert.equal(r.statusCode, 200);
    assert.ok(r.rawPayload.equals(bytes), 'r.rawPayload.equals(bytes)');
    assert.equal(mirror.count('GET', `/v2/app/blob/blobs/${digest}`), 1);
  });
});
