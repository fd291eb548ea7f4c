// Hostile or broken upstreams stay contained. A scripted upstream (test/helpers/scripted-upstream.ts)
// misbehaves on the requests a test picks and proxies everything else to a real distribution.
// Against the code before the fix: the HTML "manifest" was cached and served as text/html (200),
// a mirror's wrong bytes failed every later pull of the blob, a stalled or cut manifest body was a
// 500 with no fall-through, a 429 reached clients as a 502 without Retry-After and was forgotten
// at the next probe, one tag-list request read all 50 pages, and a HEAD of an uncached blob
// downloaded it. Each case below failed there.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, sha256, type PushedImage } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startScriptedUpstream, fetchBehind, type ScriptedUpstream } from '../helpers/scripted-upstream.js';

const REG = 'hostile.test';

async function call(gw: TestGateway, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await request(`${gw.url}${path}`, { method: method as 'GET', headers });
  const body = await r.body.arrayBuffer().then((b) => Buffer.from(b), (e: Error) => e);
  return { status: r.statusCode, headers: r.headers, body };
}

const metric = async (gw: TestGateway, re: RegExp) => {
  const r = await request(`${gw.url}/metrics`);
  const text = await r.body.text();
  const m = text.split('\n').find((l) => re.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
};

describe('hostile and broken upstreams', () => {
  let dist: Distribution;
  let img: PushedImage;
  before(async () => {
    dist = await startDistribution();
    img = await pushImage(dist.url, 'team/app', 'v1', { layers: 2, layerSize: 200_000 });
  });
  after(async () => { await dist?.stop(); });

  describe('a manifest that is not a manifest (stored XSS)', () => {
    let evil: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      evil = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: [evil.url] } });
    });
    after(async () => { await gw?.stop(); await evil?.stop(); });

    it('an upstream answer with Content-Type text/html is refused, never cached, never served as HTML', async () => {
      const page = Buffer.from('{"schemaVersion":2,"x":"<script>alert(document.domain)</script>"}');
      evil.on((req, res) => {
        if (!req.url?.includes('/manifests/')) return false;
        res.writeHead(200, { 'content-type': 'text/html', 'docker-content-digest': sha256(page), 'content-length': page.length }).end(req.method === 'HEAD' ? undefined : page);
        return true;
      });
      for (let i = 0; i < 2; i++) {
        const r = await call(gw, `/v2/${REG}/page/manifests/v1`);
        assert.equal(r.status, 502, 'refused, with the reason');
        assert.doesNotMatch(String(r.headers['content-type']), /html/);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
        assert.match(String(r.body), /not a manifest or index type/);
      }
      const byDigest = await call(gw, `/v2/${REG}/page/manifests/${sha256(page)}`);
      assert.notEqual(byDigest.status, 200, 'nothing was cached under its digest');
      assert.ok(await metric(gw, /regway_upstream_refusals_total\{.*reason="bad_media_type"/) >= 1);
    });

    it('a redirect to another path serving HTML is refused the same way; a mismatched mediaType field too', async () => {
      const page = Buffer.from('<html><script>alert(1)</script></html>');
      evil.on((req, res) => {
        if (req.url?.includes('/manifests/')) { res.writeHead(302, { location: '/evil.html' }).end(); return true; }
        if (req.url === '/evil.html') { res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }).end(page); return true; }
        return false;
      });
      const r = await call(gw, `/v2/${REG}/redir/manifests/v1`);
      assert.equal(r.status, 502);
      const lying = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'text/html', layers: [] }));
      evil.on((req, res) => {
        if (!req.url?.includes('/manifests/')) return false;
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': lying.length }).end(lying);
        return true;
      });
      assert.equal((await call(gw, `/v2/${REG}/lying/manifests/v1`)).status, 502);
      evil.on(undefined);
      const ok = await call(gw, `/v2/${REG}/team/app/manifests/v1`, { accept: img.mediaType });
      assert.equal(ok.status, 200, 'a real manifest still passes');
      assert.equal(ok.headers['docker-content-digest'], img.manifestDigest);
    });
  });

  describe('one bad mirror must not poison a blob', () => {
    let mirror: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      mirror = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: mirror.url, role: 'mirror' }, { url: dist.url, role: 'origin' }] } } });
    });
    after(async () => { await gw?.stop(); await mirror?.stop(); });

    it('wrong bytes of the right length: a client sees exact bytes or an abort, never wrong bytes; the next pull is exact; the mirror is charged', async () => {
      const layer = img.layers[0]!;
      mirror.on(async (req, res) => {
        if (!req.url?.endsWith(layer.digest) || req.method !== 'GET') return false;
        const good = await fetchBehind(dist.url, req.url);
        const bad = Buffer.from(good.body); bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
        res.writeHead(200, { 'content-length': bad.length, 'content-type': 'application/octet-stream' }).end(bad);
        return true;
      });
      const first = await call(gw, `/v2/${REG}/team/app/blobs/${layer.digest}`);
      assert.ok(first.body instanceof Error || (first.status === 200 && sha256(first.body) === layer.digest), `exact bytes or an abort, never wrong bytes with a clean end nor an error answer: ${first.status}`);
      const second = await call(gw, `/v2/${REG}/team/app/blobs/${layer.digest}`);
      assert.equal(second.status, 200);
      assert.equal(sha256(second.body as Buffer), layer.digest);
      assert.ok(await metric(gw, /regway_upstream_refusals_total\{.*reason="digest_mismatch"/) >= 1);
      const mirrorHealth = gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot();
      assert.ok(mirrorHealth.consecutiveFailures >= 1 || !mirrorHealth.up, JSON.stringify(mirrorHealth));
    });

    it('a short blob with a matching short Content-Length, after the manifest was served: caught by the descriptor size before any byte', async () => {
      const layer = img.layers[1]!;
      mirror.on(async (req, res) => {
        if (!req.url?.endsWith(layer.digest) || req.method !== 'GET') return false;
        const good = await fetchBehind(dist.url, req.url);
        const short = good.body.subarray(0, 1000);
        res.writeHead(200, { 'content-length': short.length }).end(short);
        return true;
      });
      assert.equal((await call(gw, `/v2/${REG}/team/app/manifests/v1`, { accept: img.mediaType })).status, 200);
      const r = await call(gw, `/v2/${REG}/team/app/blobs/${layer.digest}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(layer.size));
      assert.equal(sha256(r.body as Buffer), layer.digest, 'the first pull is already exact');
      assert.ok(await metric(gw, /regway_upstream_refusals_total\{.*reason="size_mismatch"/) >= 1);
    });
  });

  describe('a manifest body that stalls or is cut short', () => {
    let mirror: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      mirror = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: mirror.url, role: 'mirror', timeouts: { idle: '500ms' } }, { url: dist.url, role: 'origin' }] } } });
    });
    after(async () => { await gw?.stop(); await mirror?.stop(); });

    for (const fault of ['stall', 'cut'] as const) {
      it(`${fault}: the next upstream answers, and the mirror's health is charged`, async () => {
        const before = gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot().consecutiveFailures;
        mirror.on(async (req, res) => {
          if (!req.url?.includes('/manifests/') || req.method !== 'GET') return false;
          const good = await fetchBehind(dist.url, req.url, { accept: String(req.headers.accept) });
          res.writeHead(200, { 'content-type': good.headers['content-type']!, 'content-length': good.body.length, 'docker-content-digest': good.headers['docker-content-digest']! });
          res.write(good.body.subarray(0, 50));
          if (fault === 'cut') setTimeout(() => res.socket?.destroy(), 20);
          return true; // stall: never ends
        });
        const r = await call(gw, `/v2/${REG}/team/app/manifests/${img.manifestDigest}`, { accept: img.mediaType });
        assert.equal(r.status, 200, String(r.body));
        assert.equal(sha256(r.body as Buffer), img.manifestDigest);
        assert.ok(gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot().consecutiveFailures > before);
        mirror.on(undefined);
        // Forget the manifest so the next case fetches it again.
        await gw.stop().catch(() => {});
        gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: mirror.url, role: 'mirror', timeouts: { idle: '500ms' } }, { url: dist.url, role: 'origin' }] } } });
      });
    }
  });

  describe('rate limits', () => {
    let limited: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      limited = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: [limited.url] } });
    });
    after(async () => { await gw?.stop(); await limited?.stop(); });

    it("the only upstream's 429 reaches the client as 429 with Retry-After, and a successful probe does not end the window", async () => {
      limited.on((req, res) => {
        if (!req.url?.includes('/manifests/')) return false; // /v2/ still answers 200, as on Docker Hub
        res.writeHead(429, { 'retry-after': '3600', 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
        return true;
      });
      const r = await call(gw, `/v2/${REG}/team/app/manifests/v1`);
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers['retry-after']) > 3500, String(r.headers['retry-after']));
      await gw.routes.get(REG)!.upstreams.probeAll();
      const asked = limited.requests.filter((q) => q.url.includes('/manifests/')).length;
      const again = await call(gw, `/v2/${REG}/team/app/manifests/v1`);
      assert.equal(again.status, 429);
      assert.ok(Number(again.headers['retry-after']) > 3500);
      assert.equal(limited.requests.filter((q) => q.url.includes('/manifests/')).length, asked, 'the upstream is not asked inside its window');
    });
  });

  describe('tag lists', () => {
    let huge: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      huge = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: [huge.url] } });
    });
    after(async () => { await gw?.stop(); await huge?.stop(); });

    it('an endless paged list is gathered only up to a cap and answered with a Link to the rest; a client page is one upstream page', async () => {
      const pageTags = (from: number) => Array.from({ length: 20_000 }, (_, i) => `t${String(from + i).padStart(9, '0')}-${'x'.repeat(30)}`);
      huge.on((req, res) => {
        const u = new URL(req.url!, 'http://x');
        if (!u.pathname.endsWith('/tags/list')) return false;
        const from = Number(u.searchParams.get('from') ?? 0);
        const n = u.searchParams.get('n');
        const tags = n ? pageTags(0).slice(0, Number(n)) : pageTags(from);
        res.writeHead(200, { 'content-type': 'application/json', link: `</v2/x/tags/list?from=${from + 20_000}>; rel="next"` }).end(JSON.stringify({ name: 'x', tags }));
        return true;
      });
      const r = await call(gw, `/v2/${REG}/big/tags/list`);
      assert.equal(r.status, 200);
      const pages = huge.requests.filter((q) => q.url.includes('/tags/list')).length;
      assert.ok(pages < 10, `read ${pages} pages (the cap is 4 MiB / 50,000 tags)`);
      const doc = JSON.parse(String(r.body)) as { tags: string[] };
      assert.ok(doc.tags.length <= 50_000 && doc.tags.length > 0);
      assert.match(String(r.headers.link), /rel="next"/, 'the client is told where the rest is');
      const before = huge.requests.length;
      const page = await call(gw, `/v2/${REG}/big/tags/list?n=10`);
      assert.equal(JSON.parse(String(page.body)).tags.length, 10);
      assert.equal(huge.requests.length - before, 1, 'n is passed to the upstream: one page');
      assert.match(huge.requests.at(-1)!.url, /n=10/);
    });
  });

  describe('HEAD answers', () => {
    let up: ScriptedUpstream;
    let gw: TestGateway;
    before(async () => {
      up = await startScriptedUpstream({ behind: dist.url });
      gw = await startGateway({ registries: { [REG]: [up.url] } });
    });
    after(async () => { await gw?.stop(); await up?.stop(); });

    it('HEAD of an uncached blob is an upstream HEAD, not a download', async () => {
      const layer = img.layers[0]!;
      const r = await call(gw, `/v2/${REG}/team/app/blobs/${layer.digest}`, {}, 'HEAD');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(layer.size));
      const blobReqs = up.requests.filter((q) => q.url.endsWith(layer.digest));
      assert.deepEqual(blobReqs.map((q) => q.method), ['HEAD']);
    });

    it('HEAD and GET of a missing manifest agree on Content-Length (also when the miss is remembered)', async () => {
      const get = await call(gw, `/v2/${REG}/team/app/manifests/nope`);
      const head = await call(gw, `/v2/${REG}/team/app/manifests/nope`, {}, 'HEAD');
      assert.equal(get.status, 404);
      assert.equal(head.status, 404);
      assert.equal(head.headers['content-length'], get.headers['content-length']);
      assert.equal(String((get.body as Buffer).length), get.headers['content-length']);
    });
  });
});
