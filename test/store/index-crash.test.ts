// The cache index after SIGKILL: during blob commits and during an index build, at several
// moments. After a restart the index agrees with the store (same blobs, same sizes), every blob
// hashes to its digest, and what the gateway serves is exact. The store is the source of truth; the
// index is derived from it and must never lose or invent anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';
import { IndexDb } from '../../src/store/index-db.js';

const KB = 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every blob file in the store: digest -> size, each checked to hash to its name. */
function storeBlobs(data: string): Map<string, number> {
  const out = new Map<string, number>();
  const root = join(data, 'blobs', 'sha256');
  for (const dir of safeList(root)) {
    for (const hex of safeList(join(root, dir))) {
      const file = join(root, dir, hex);
      assert.equal(sha256(readFileSync(file)), hex, `${file} holds other bytes than its digest`);
      out.set(`sha256:${hex}`, statSync(file).size);
    }
  }
  return out;
}
const safeList = (d: string) => { try { return readdirSync(d); } catch { return []; } };

/** The index's blobs, read from its file after the gateway stopped. */
function indexBlobs(data: string): Map<string, number> {
  const db = new IndexDb(join(data, '_index', 'cache.db'));
  try {
    const rows = db.lru({ atime: -1, digest: '' }, 1_000_000);
    assert.deepEqual(db.totals(), { blobs: rows.length, bytes: rows.reduce((s, r) => s + r.size, 0) }, 'the totals are the rows');
    return new Map(rows.map((r) => [r.digest, r.size]));
  } finally { db.close(); }
}

async function metric(inst: Instance, name: string): Promise<number | undefined> {
  const r = await request(`${inst.url}/metrics`);
  const text = await r.body.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
const indexComplete = (inst: Instance) => waitFor(async () => (await metric(inst, 'regway_index_complete')) === 1, 'the index to be complete', 30_000);

async function pullAll(base: string, host: string, images: { name: string; img: PushedImage }[]): Promise<void> {
  await Promise.all(images.flatMap(({ name, img }) => [
    get(`${base}/v2/${name}/manifests/v1?ns=${host}`, img.manifestDigest),
    ...[img.config.digest, ...img.layers.map((l) => l.digest)].map((d) => get(`${base}/v2/${name}/blobs/${d}?ns=${host}`, d)),
  ]));
}
/** Exact bytes, or a failed request (the process may be killed mid-way): never wrong bytes. */
async function get(url: string, digest: string): Promise<void> {
  try {
    const r = await request(url, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const chunks: Buffer[] = [];
    for await (const c of r.body) chunks.push(c as Buffer);
    if (r.statusCode === 200) assert.equal(`sha256:${sha256(Buffer.concat(chunks))}`, digest, `${url} served other bytes`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
  }
}

describe('the cache index survives SIGKILL', () => {
  it('killed during blob commits at several moments: after a restart the index equals the store and every blob is exact', async () => {
    const up = await startDistribution();
    const dir = makeTempDir('index-crash');
    const data = join(dir, 'data');
    const images = [];
    for (let i = 0; i < 4; i++) images.push({ name: `team/app${i}`, img: await pushImage(up.url, `team/app${i}`, 'v1', { layers: 8, layerSize: 192 * KB }) });
    const config = { registries: { [up.host]: { upstreams: [{ url: up.url }] } }, storage: { path: data } };
    try {
      for (const ms of [30, 120, 300, 700]) {
        const inst = await startInstance(config);
        const pulls = pullAll(inst.url, up.host, images);
        await new Promise((r) => setTimeout(r, ms)); // the time is the subject: the kill lands at several points of the pulls
        inst.kill();
        await pulls;
      }
      // The two crash windows, made certain: a blob committed whose row was never written, and a
      // blob deleted (evicted) whose row was never removed.
      const orphan = Buffer.from('committed, then the process died before its index row');
      const orphanHex = sha256(orphan);
      mkdirSync(join(data, 'blobs', 'sha256', orphanHex.slice(0, 2)), { recursive: true });
      writeFileSync(join(data, 'blobs', 'sha256', orphanHex.slice(0, 2), orphanHex), orphan);
      const gone = images[0]!.img.layers[0]!.digest;
      rmSync(join(data, 'blobs', 'sha256', gone.slice(7, 9), gone.slice(7)), { force: true });

      let inst = await startInstance(config);
      await indexComplete(inst);
      await inst.stop();
      const afterCrash = indexBlobs(data);
      assert.equal(afterCrash.get(`sha256:${orphanHex}`), orphan.length, 'the reconcile found the blob the index missed');
      assert.deepEqual(new Map([...afterCrash].filter(([d]) => d !== gone)), storeBlobs(data), 'apart from the stale row, the index is the store');

      inst = await startInstance(config);
      const head = await request(`${inst.url}/v2/team/app0/blobs/${gone}?ns=${up.host}`, { method: 'HEAD' });
      assert.equal(head.statusCode, 200); // the upstream's HEAD: not cached any more
      await inst.stop();
      assert.deepEqual(indexBlobs(data), storeBlobs(data), 'the stale row was dropped on its first read');

      inst = await startInstance(config);
      await pullAll(inst.url, up.host, images); // everything, exact, after the crashes
      await inst.stop();
      const store = storeBlobs(data);
      assert.ok(store.size >= images.length * 9, `every blob is stored: ${store.size}`);
      assert.deepEqual(indexBlobs(data), store);
    } finally { removeTempDir(dir); await up.stop(); }
  });

  it('killed during the index build of an existing cache: the next start builds it again, complete and equal to the store', async () => {
    const dir = makeTempDir('index-rebuild-crash');
    const data = join(dir, 'data');
    const { blobs, repos } = synthesise(data, 12_000, 600);
    const config = { registries: { 'registry.test': { upstreams: [{ url: 'http://127.0.0.1:9' }] } }, storage: { path: data } };
    try {
      // Killed when the build has read a few store objects, then further in (blobs, then repositories).
      for (const scanned of [500, 12_300]) {
        const inst = await startInstance(config);
        await waitFor(async () => ((await metric(inst, 'regway_index_build_scanned')) ?? 0) >= scanned && (await metric(inst, 'regway_index_complete')) === 0, `the index build to pass ${scanned} objects`, 30_000);
        inst.kill();
      }
      const inst = await startInstance(config);
      await indexComplete(inst);
      const names: string[] = [];
      let next: string | undefined = '/v2/_catalog?n=250';
      while (next) {
        const r: Awaited<ReturnType<typeof request>> = await request(`${inst.url}${next}`);
        names.push(...((await r.body.json()) as { repositories: string[] }).repositories);
        next = /<([^>]+)>/.exec(String(r.headers.link ?? ''))?.[1];
      }
      assert.equal(names.length, repos, 'the catalog pages through every repository once');
      assert.deepEqual(names, [...names].sort());
      await inst.stop();
      assert.equal(indexBlobs(data).size, blobs);
    } finally { removeTempDir(dir); }
  });
});

/** A cache written by an earlier regway (no index): `n` tiny blobs, `m` repositories with a tag and links. */
function synthesise(data: string, n: number, m: number): { blobs: number; repos: number } {
  const now = Date.now() / 1000;
  for (let i = 0; i < n; i++) {
    const bytes = Buffer.from(`blob number ${i}`);
    const hex = sha256(bytes);
    mkdirSync(join(data, 'blobs', 'sha256', hex.slice(0, 2)), { recursive: true });
    writeFileSync(join(data, 'blobs', 'sha256', hex.slice(0, 2), hex), bytes);
    if (i < m) {
      const repo = join(data, 'repositories', 'registry.test', 'team', `app-${String(i).padStart(4, '0')}`);
      mkdirSync(join(repo, '_tags'), { recursive: true });
      mkdirSync(join(repo, '_manifests', 'sha256'), { recursive: true });
      mkdirSync(join(repo, '_blobs', 'sha256'), { recursive: true });
      writeFileSync(join(repo, '_tags', 'v1'), JSON.stringify({ digest: `sha256:${hex}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: bytes.length, checkedAt: now }));
      writeFileSync(join(repo, '_manifests', 'sha256', hex), JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', size: bytes.length }));
      writeFileSync(join(repo, '_blobs', 'sha256', hex), ''); // an old-style empty link
    }
  }
  return { blobs: n, repos: m };
}
