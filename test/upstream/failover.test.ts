// Many upstreams per registry, with real distribution registries as upstreams and a real nginx in
// front of one of them (slow with limit_rate, killable, or answering 500/429/404).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { buildImage, pushBuiltImage, type BuiltImage, sha256 as sha } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const REG = 'registry.failover.test';
const MB = 1024 * 1024;

async function pull(gw: TestGateway, img: BuiltImage): Promise<{ ms: number; cache: string[] }> {
  const t0 = performance.now();
  const m = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
  const bytes = Buffer.from(await m.body.arrayBuffer());
  assert.equal(m.statusCode, 200, bytes.toString());
  assert.equal(sha(bytes), img.manifestDigest);
  const cache = [String(m.headers['x-regway-cache'])];
  for (const b of [img.config, ...img.layers]) {
    const r = await request(`${gw.url}/v2/${REG}/team/app/blobs/${b.digest}`);
    const h = createHash('sha256');
    for await (const c of r.body) h.update(c as Buffer);
    assert.equal(r.statusCode, 200);
    assert.equal(`sha256:${h.digest('hex')}`, b.digest);
    cache.push(String(r.headers['x-regway-cache']));
  }
  return { ms: performance.now() - t0, cache };
}

const upstreams = (...urls: string[]) => ({ upstreams: urls.map((url, i) => ({ url, role: i === urls.length - 1 ? 'origin' as const : 'mirror' as const, timeouts: { connect: '1s', headers: '1s', idle: '2s' } })) });

describe('failover across upstreams', () => {
  let primary: Distribution;
  let secondary: Distribution;
  let img: BuiltImage;

  before(async () => {
    [primary, secondary] = await Promise.all([startDistribution(), startDistribution()]);
    img = buildImage({ layers: 2, layerSize: 4 * MB });
    await pushBuiltImage(primary.url, 'team/app', 'v1', img);
    await pushBuiltImage(secondary.url, 'team/app', 'v1', img);
  });
  after(async () => { await primary?.stop(); await secondary?.stop(); });

  it('primary killed before a pull: the next upstream serves it, with well under 1 s added', async () => {
    const front = await startNginx(`location / { proxy_pass ${primary.url}; }`);
    const gw = await startGateway({ registries: { [REG]: upstreams(front.url, secondary.url) } });
    try {
      front.kill();
      const first = await pull(gw, img);
      assert.ok(first.ms < 5000, `first pull after the primary died took ${first.ms} ms`);
      const health = gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot();
      assert.equal(health.consecutiveFailures > 0, true);
    } finally { await gw.stop(); await front.stop(); }
  });

  it('primary killed mid-blob: the client gets correct bytes, the rest comes from the next upstream by Range, nothing partial is cached', async () => {
    // 2 MB/s: the 4 MB layer takes ~2 s through the primary.
    const front = await startNginx(`location / { proxy_pass ${primary.url}; proxy_buffering on; limit_rate 2m; }`);
    const gw = await startGateway({ registries: { [REG]: upstreams(front.url, secondary.url) } });
    try {
      const layer = img.layers[0]!;
      const url = `${gw.url}/v2/${REG}/team/app/blobs/${layer.digest}`;
      let received = 0;
      const reading = (async () => {
        const r = await request(url);
        const h = createHash('sha256');
        for await (const c of r.body) { h.update(c as Buffer); received += (c as Buffer).length; }
        return { status: r.statusCode, digest: `sha256:${h.digest('hex')}`, n: received };
      })();
      // Kill the primary once bytes are flowing (not at a fixed time: a loaded machine may be slower).
      await waitFor(() => received >= 512 * 1024, 'the first 512 KiB of the blob through the primary', 10_000, { seen: () => `${received} bytes` });
      assert.ok(received < layer.size, 'the primary was killed before the blob was complete');
      front.kill();
      const got = await reading;
      assert.equal(got.status, 200);
      assert.equal(got.digest, layer.digest);
      const resumed = (await secondary.accessLog()).filter((l) => l.path.endsWith(layer.digest) && l.status === 206);
      assert.equal(resumed.length, 1, `the secondary served the rest with one Range request: ${JSON.stringify((await secondary.accessLog()).filter((l) => l.path.endsWith(layer.digest)))} nginx: ${JSON.stringify(front.accessLog())}`);
      await gw.inflight.drain(2000);
      assert.deepEqual(readdirSync(join(gw.storage, '_tmp')), [], 'no partial blob left');
      const cached = await request(url);
      assert.equal(cached.headers['x-regway-cache'], 'hit');
      assert.equal(sha(Buffer.from(await cached.body.arrayBuffer())), layer.digest);
    } finally { await gw.stop(); await front.stop(); }
  });

  for (const [status, extra] of [[500, ''], [429, 'add_header Retry-After 60 always;'], [404, '']] as const) {
    it(`primary answering ${status}: the next upstream answers${status === 429 ? ', and the primary is left alone for Retry-After' : ''}`, async () => {
      const front = await startNginx(`location / { ${extra} return ${status}; }`);
      const gw = await startGateway({ registries: { [REG]: upstreams(front.url, secondary.url) } });
      try {
        await pull(gw, img);
        if (status === 429) {
          const before = front.accessLog().length;
          const again = await request(`${gw.url}/v2/${REG}/team/app/manifests/v2-missing`, { headers: { accept: img.mediaType } });
          await again.body.dump();
          assert.equal(front.accessLog().length, before, 'no request to a rate-limited upstream during Retry-After');
        }
      } finally { await gw.stop(); await front.stop(); }
    });
  }

  it('primary hanging: the timeout sends the pull to the next upstream, and once the circuit opens later pulls pay nothing', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const hang: Server = createServer((s) => { sockets.add(s); s.on('error', () => {}); }); // accepts, never answers
    const port = await freePort();
    await new Promise<void>((r) => hang.listen(port, '127.0.0.1', r));
    const gw = await startGateway({ registries: { [REG]: upstreams(`http://127.0.0.1:${port}`, secondary.url) } });
    try {
      const first = await pull(gw, img);
      assert.deepEqual(first.cache, ['miss', 'miss', 'miss', 'miss']);
      // Three timeouts open the circuit (threshold 3); then no more waiting on the hung upstream.
      const tags = ['t1', 't2', 't3', 't4'];
      const times: number[] = [];
      for (const t of tags) {
        const t0 = performance.now();
        const r = await request(`${gw.url}/v2/${REG}/team/app/manifests/${t}`, { headers: { accept: img.mediaType } });
        await r.body.dump();
        times.push(performance.now() - t0);
      }
      assert.ok(times[3]! < 500, `after the circuit opened a request took ${times[3]} ms (times: ${times.map(Math.round)})`);
    } finally { await gw.stop(); for (const s of sockets) s.destroy(); hang.close(); }
  });

  it('all upstreams down: stale tag served, digests served from cache, uncached content is UPSTREAM_UNAVAILABLE', async () => {
    const a = await startNginx(`location / { proxy_pass ${primary.url}; }`);
    const b = await startNginx(`location / { proxy_pass ${secondary.url}; }`);
    const gw = await startGateway({ registries: { [REG]: { ...upstreams(a.url, b.url), tagTtl: '0s' } } });
    try {
      await pull(gw, img);
      a.kill(); b.kill();
      const again = await pull(gw, img);
      assert.equal(again.cache[0], 'stale');
      const byDigest = await request(`${gw.url}/v2/${REG}/team/app/manifests/${img.manifestDigest}`, { headers: { accept: img.mediaType } });
      assert.equal(byDigest.statusCode, 200);
      await byDigest.body.dump();
      const uncached = await request(`${gw.url}/v2/${REG}/team/app/manifests/other`, { headers: { accept: img.mediaType } });
      assert.equal(uncached.statusCode, 502);
      assert.equal(((await uncached.body.json()) as { errors: { code: string }[] }).errors[0]!.code, 'UPSTREAM_UNAVAILABLE');
    } finally { await gw.stop(); await a.stop(); await b.stop(); }
  });

  it('a reload switches primaries during a running pull: the pull finishes, new pulls use the new primary', async () => {
    const slow = await startNginx(`location / { proxy_pass ${primary.url}; proxy_buffering on; limit_rate 2m; }`);
    const gw = await startGateway({ registries: { [REG]: upstreams(slow.url) } });
    try {
      const layer = img.layers[1]!;
      let received = 0;
      const running = (async () => {
        const r = await request(`${gw.url}/v2/${REG}/team/app/blobs/${layer.digest}`);
        const h = createHash('sha256');
        for await (const c of r.body) { h.update(c as Buffer); received += (c as Buffer).length; }
        return `sha256:${h.digest('hex')}`;
      })();
      // Reload once the pull is under way: bytes are flowing from the old primary.
      await waitFor(() => received > 0, 'the first bytes of the running pull', 10_000);
      const { applyOverrides } = await import('../../src/config/load.js');
      await gw.reload(applyOverrides({ storage: { path: gw.storage }, registries: { [REG]: upstreams(secondary.url) } }, {}));
      assert.equal(await running, layer.digest, 'the pull under way finished on the old upstream');
      const before = (await secondary.accessLog()).length;
      const m = await request(`${gw.url}/v2/${REG}/team/app/manifests/${img.manifestDigest}`, { headers: { accept: img.mediaType } });
      await m.body.dump();
      const other = img.layers[0]!;
      const r = await request(`${gw.url}/v2/${REG}/team/app/blobs/${other.digest}`);
      assert.equal(sha(Buffer.from(await r.body.arrayBuffer())), other.digest);
      const log = (await secondary.accessLog()).slice(before);
      assert.ok(log.some((l) => l.path.endsWith(other.digest)), 'the new primary served the new pull');
      assert.ok(!slow.accessLog().some((l) => l.includes(other.digest)), 'the old primary was not asked');
    } finally { await gw.stop(); await slow.stop(); }
  });
});

describe('upstream credentials', () => {
  it('from a Docker config.json, against an htpasswd-protected distribution', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const up = await startDistribution({ htpasswd: { user: 'alice', password: 's3cr3t' } });
    const img = buildImage({ layers: 1, layerSize: 100_000 });
    await pushBuiltImage(up.url, 'team/app', 'v1', img, { user: 'alice', password: 's3cr3t' });
    const dir = mkdtempSync(join(tmpdir(), 'regway-dockercfg-'));
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ auths: { [up.host]: { auth: Buffer.from('alice:s3cr3t').toString('base64') } } }));
    const { applyOverrides } = await import('../../src/config/load.js');
    const { createGateway } = await import('../../src/server/gateway.js');
    const { silentLogger } = await import('../../src/obs/logger.js');
    const noCreds = await startGateway({ registries: { [REG]: [up.url] } });
    const config = applyOverrides({ storage: { path: mkdtempSync(join(tmpdir(), 'regway-gw-')) }, credentials: { dockerConfig: cfg }, registries: { [REG]: { upstreams: [{ url: up.url }] } } }, {});
    const gw = await createGateway(config, silentLogger());
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = gw.app.server.address() as import('node:net').AddressInfo;
    try {
      const denied = await request(`${noCreds.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
      assert.equal(denied.statusCode, 403, 'without credentials the upstream refuses');
      await denied.body.dump();
      const ok = await request(`http://127.0.0.1:${addr.port}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
      assert.equal(ok.statusCode, 200);
      assert.equal(sha(Buffer.from(await ok.body.arrayBuffer())), img.manifestDigest);
    } finally { await gw.close(); await noCreds.stop(); await up.stop(); }
  });

  it('from a Docker credential helper program (docker-credential-*), against an htpasswd-protected distribution', async () => {
    const { mkdtempSync, writeFileSync, chmodSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const up = await startDistribution({ htpasswd: { user: 'bob', password: 'from-helper' } });
    const img = buildImage({ layers: 1, layerSize: 1000 });
    await pushBuiltImage(up.url, 'team/app', 'v1', img, { user: 'bob', password: 'from-helper' });
    // A real helper program speaking the protocol: server URL on stdin, JSON on stdout.
    const bin = mkdtempSync(join(tmpdir(), 'regway-helper-'));
    const helper = join(bin, 'docker-credential-regwaytest');
    writeFileSync(helper, `#!/bin/sh\nread server\n[ "$1" = get ] || exit 1\necho "$server" > ${bin}/asked\nprintf '{"ServerURL":"%s","Username":"bob","Secret":"from-helper"}' "$server"\n`);
    chmodSync(helper, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    const gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: up.url, auth: { helper: 'regwaytest' } }] } } });
    try {
      const ok = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
      assert.equal(ok.statusCode, 200);
      assert.equal(sha(Buffer.from(await ok.body.arrayBuffer())), img.manifestDigest);
      const { readFileSync } = await import('node:fs');
      assert.equal(readFileSync(join(bin, 'asked'), 'utf8').trim(), up.host, 'the helper was asked for the upstream host');
    } finally { process.env.PATH = oldPath; await gw.stop(); await up.stop(); }
  });
});
