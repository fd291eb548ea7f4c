// The cache size limit: least-recently-used blobs are evicted, never one being read, and
// `regway gc` enforces a limit offline. Logs never hold credentials.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startGateway } from '../helpers/gateway.js';
import { applyOverrides } from '../../src/config/load.js';
import { createGateway } from '../../src/server/gateway.js';
import { createLogger } from '../../src/obs/logger.js';

const MB = 1024 * 1024;
const blobCount = (storage: string) => readdirSync(join(storage, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;

async function fetchDigest(url: string): Promise<string> {
  const r = await request(url);
  const h = createHash('sha256');
  for await (const c of r.body) h.update(c as Buffer);
  assert.equal(r.statusCode, 200);
  return `sha256:${h.digest('hex')}`;
}

describe('cache size limit', () => {
  it('evicts least-recently-used blobs to stay under maxSize, keeping recent ones', async () => {
    const up = await startDistribution();
    const img = await pushImage(up.url, 'team/big', 'v1', { layers: 6, layerSize: 2 * MB });
    const gw = await startGateway({ registries: { [up.host]: [up.url] }, maxSize: 7 * MB });
    try {
      const q = `ns=${up.host}`;
      for (const l of img.layers) {
        assert.equal(await fetchDigest(`${gw.url}/v2/team/big/blobs/${l.digest}?${q}`), l.digest);
        await gw.inflight.drain(2000);
      }
      assert.ok(gw.index.size <= 7 * MB, `cache holds ${gw.index.size} bytes`);
      assert.ok(gw.index.evictions >= 3, `evictions: ${gw.index.evictions}`);
      const last = img.layers[img.layers.length - 1]!;
      const r = await request(`${gw.url}/v2/team/big/blobs/${last.digest}?${q}`);
      assert.equal(r.headers['x-regway-cache'], 'hit', 'the most recent blob is still cached');
      await r.body.dump();
      const first = img.layers[0]!;
      const again = await request(`${gw.url}/v2/team/big/blobs/${first.digest}?${q}`);
      assert.equal(again.headers['x-regway-cache'], 'miss', 'the oldest was evicted and is fetched again');
      await again.body.dump();
    } finally { await gw.stop(); await up.stop(); }
  });

  it('regway gc evicts offline down to --max-size', async () => {
    const up = await startDistribution();
    const img = await pushImage(up.url, 'team/gc', 'v1', { layers: 4, layerSize: 1 * MB });
    const storage = mkdtempSync(join(tmpdir(), 'regway-gc-'));
    const gw = await startGateway({ registries: { [up.host]: [up.url] }, storage });
    try {
      for (const l of img.layers) await fetchDigest(`${gw.url}/v2/team/gc/blobs/${l.digest}?ns=${up.host}`);
    } finally { await gw.stop(); await up.stop(); }
    assert.equal(blobCount(storage), 4);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gc', '--storage', storage, '--max-size', '2.5MiB']);
    assert.match(stdout, /blobs removed/);
    assert.ok(blobCount(storage) <= 2, `${blobCount(storage)} blobs left`);
    rmSync(storage, { recursive: true, force: true });
  });
});

describe('logs', () => {
  it('never contain upstream credentials or tokens, even at debug level', async () => {
    const up = await startDistribution({ htpasswd: { user: 'alice', password: 'pa55-VERY-secret' } });
    const img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 1000, auth: { user: 'alice', password: 'pa55-VERY-secret' } });
    const dir = mkdtempSync(join(tmpdir(), 'regway-log-'));
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'pa55-VERY-secret\n');
    let logged = '';
    const sink = new Writable({ write(c, _e, cb) { logged += String(c); cb(); } });
    const config = applyOverrides({ storage: { path: dir }, log: { level: 'trace' }, registries: { [up.host]: { upstreams: [{ url: up.url, auth: { username: 'alice', password: { file: pw } } }] } } }, {});
    const gw = await createGateway(config, createLogger('trace', sink));
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (gw.app.server.address() as import('node:net').AddressInfo).port;
    try {
      const m = await request(`http://127.0.0.1:${port}/v2/team/app/manifests/v1?ns=${up.host}`, { headers: { accept: img.mediaType, authorization: 'Basic Y2xpZW50OnNlY3JldA==' } });
      assert.equal(m.statusCode, 200);
      await m.body.dump();
      assert.ok(logged.length > 0, 'something was logged');
      assert.ok(!logged.includes('pa55-VERY-secret'), 'password not logged');
      assert.ok(!logged.includes(Buffer.from('alice:pa55-VERY-secret').toString('base64')), 'basic credentials not logged');
      assert.ok(!logged.includes('Y2xpZW50OnNlY3JldA=='), "client's authorization header not logged");
    } finally { await gw.close(); await up.stop(); rmSync(dir, { recursive: true, force: true }); }
  });
});
