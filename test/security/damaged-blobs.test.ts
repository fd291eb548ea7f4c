// Damaged bytes in the store are never served. A cached blob truncated on disk was served with the
// truncated length and a clean end, and a flipped bit was served forever; hosted content the same.
// Now every read checks the size recorded when the blob was linked (a damaged cache blob is
// dropped and fetched again), and `regway verify` re-hashes everything, puts damaged blobs aside
// and fetches cache blobs again. Both cases failed on the code before the fix.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, sha256, type PushedImage } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';

const REG = 'damage.test';
const ROOT = resolve(import.meta.dirname, '..', '..');
const blobFile = (storage: string, digest: string, root = 'blobs') => { const hex = digest.slice(7); return join(storage, root, 'sha256', hex.slice(0, 2), hex); };

describe('damaged bytes in the store', () => {
  let dist: Distribution;
  let img: PushedImage;
  before(async () => {
    dist = await startDistribution();
    img = await pushImage(dist.url, 'team/app', 'v1', { layers: 2, layerSize: 100_000 });
  });
  after(async () => { await dist?.stop(); });

  const get = async (base: string, path: string) => {
    const r = await request(`${base}${path}`);
    const body = await r.body.arrayBuffer().then((b) => Buffer.from(b), (e: Error) => e);
    return { status: r.statusCode, headers: r.headers, body };
  };

  it('a truncated cache file is not served: it is dropped and fetched again, the client gets exact bytes', async () => {
    const gw: TestGateway = await startGateway({ registries: { [REG]: [dist.url] } });
    try {
      const layer = img.layers[0]!;
      const path = `/v2/${REG}/team/app/blobs/${layer.digest}`;
      assert.equal(sha256((await get(gw.url, path)).body as Buffer), layer.digest);
      await gw.inflight.drain(10_000); // the commit and its link land after the last byte
      truncateSync(blobFile(gw.storage, layer.digest), 1000);
      const before = (await dist.accessLog()).filter((l) => l.path.endsWith(layer.digest) && l.method === 'GET').length;
      const r = await get(gw.url, path);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(layer.size));
      assert.equal(sha256(r.body as Buffer), layer.digest);
      const after = (await dist.accessLog()).filter((l) => l.path.endsWith(layer.digest) && l.method === 'GET').length;
      assert.equal(after, before + 1, 'fetched again from the upstream');
    } finally { await gw.stop(); }
  });

  it('regway verify finds a flipped bit, keeps the bad bytes aside, fetches the blob again; the next pull is exact', async () => {
    const dir = makeTempDir('verify');
    const storage = join(dir, 'data');
    const gw: TestGateway = await startGateway({ registries: { [REG]: [dist.url] }, storage });
    const layer = img.layers[1]!;
    try {
      assert.equal(sha256((await get(gw.url, `/v2/${REG}/team/app/blobs/${layer.digest}`)).body as Buffer), layer.digest);
      await gw.inflight.drain(10_000);
    } finally { await gw.stop(); }
    const file = blobFile(storage, layer.digest);
    const bytes = readFileSync(file);
    bytes[500] = bytes[500]! ^ 0x01;
    writeFileSync(file, bytes);
    const cfg = join(dir, 'regway.yaml');
    writeFileSync(cfg, stringify({ storage: { path: storage }, registries: { [REG]: { upstreams: [{ url: dist.url }] } }, log: { level: 'warn' } }));
    try {
      const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'verify', '--config', cfg, '--json'], { cwd: ROOT, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(r.stdout) as { checked: number; damaged: { digest: string; refetched: boolean; quarantined?: string }[] };
      assert.ok(report.checked >= 1);
      assert.deepEqual(report.damaged.map((d) => [d.digest, d.refetched]), [[layer.digest, true]]);
      assert.ok(existsSync(join(storage, report.damaged[0]!.quarantined!)), 'the bad bytes are kept for inspection');
      assert.equal(sha256(readFileSync(file)), layer.digest, 'the store holds the exact blob again');
      const again = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'verify', '--config', cfg], { cwd: ROOT, timeoutMs: 60_000 });
      assert.equal(again.code, 0);
      assert.match(again.stdout, /0 damaged/);
    } finally { removeTempDir(dir); }
  });

  it('truncated hosted content is not served under its digest', async () => {
    const gw: HostedGateway = await startHostedGateway();
    try {
      const pushed = await pushImage(gw.url, 'local/app', 'v1', { layers: 1, layerSize: 50_000 });
      const layer = pushed.layers[0]!;
      truncateSync(blobFile(gw.storage, layer.digest, 'hosted/blobs'), 100);
      const r = await get(gw.url, `/v2/local/app/blobs/${layer.digest}`);
      assert.equal(r.status, 404, 'damaged hosted content is unknown, never short bytes');
    } finally { await gw.stop(); }
  });
});
