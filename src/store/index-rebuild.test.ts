// The index keeper: when it trusts the index, rebuilds it or reconciles it, and that what it
// builds from a store is what the store holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexDb } from './index-db.js';
import { IndexKeeper, parseRepositoryKey, STORE_ID_KEY } from './index-rebuild.js';
import { DriverMetadataStore } from './metadata.js';
import { IndexedMetadataStore } from './indexed-metadata.js';
import { MemoryDriver } from './memory-driver.js';
import { BlobStore } from './blob-store.js';
import type { StorageDriver } from './driver.js';
import { digestOf, parseDigest } from '../oci/digest.js';
import { silentLogger } from '../obs/logger.js';

const MT = 'application/vnd.oci.image.manifest.v1+json';
const repo = (name: string, registry = 'registry.test:5000') => ({ registry, name });

/** A store written the way the gateway writes it: n blobs, each linked from one of m repositories, with a tag and a manifest link each. */
async function fill(driver: StorageDriver, n: number, m: number) {
  const blobs = new BlobStore(driver, 'cache');
  const files = new DriverMetadataStore(driver);
  const digests = [];
  for (let i = 0; i < n; i++) {
    const bytes = Buffer.from(`blob ${i}`);
    const d = parseDigest(digestOf(bytes));
    await blobs.putVerified(d, bytes);
    digests.push({ d, size: bytes.length });
    const r = repo(`team/app-${i % m}`);
    await files.putBlobLink(r, d, bytes.length);
    if (i < m) {
      await files.putTag(r, 'v1', { digest: d.value, mediaType: MT, size: bytes.length, checkedAt: 42 });
      await files.putManifestLink(r, d, { mediaType: MT, size: bytes.length });
      await files.addReferrer(r, d, d, { mediaType: MT, digest: d.value, size: 1, artifactType: 'x/y' });
    }
  }
  return digests;
}

async function keeper(driver: StorageDriver, db = new IndexDb(':memory:')) {
  const k = new IndexKeeper(db, driver, silentLogger());
  const { building } = await k.open();
  return { k, db, building };
}

test('an empty index over a filled store is rebuilt in the background, and then holds all of it', async () => {
  const driver = new MemoryDriver();
  const digests = await fill(driver, 50, 7);
  const { k, db, building } = await keeper(driver);
  assert.ok(building, 'a build started');
  assert.equal(k.complete(), false);
  assert.equal(k.progress.reason, 'no index yet');
  await building;
  assert.equal(k.complete(), true);
  assert.deepEqual(db.totals(), { blobs: 50, bytes: digests.reduce((s, x) => s + x.size, 0) });
  assert.equal(db.repositories().length, 7);
  const r0 = repo('team/app-0');
  assert.deepEqual(db.listTags(r0), ['v1']);
  assert.equal(db.getTag(r0, 'v1')!.checkedAt, 42);
  assert.deepEqual(db.getBlobLink(r0, digests[7]!.d.value), { size: digests[7]!.size });
  assert.deepEqual(db.listManifestLinks(r0), [digests[0]!.d.value]);
  assert.equal(db.listReferrers(r0, digests[0]!.d.value)[0]!.artifactType, 'x/y');
  assert.ok(db.catalog(undefined, 100).every((c) => c.display === `registry.test:5000/${c.name}`), 'the registry port is decoded');
});

test('a closed index is trusted at the next start: no build, nothing read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'regway-index-'));
  const driver = new MemoryDriver();
  await fill(driver, 5, 2);
  const first = await keeper(driver, new IndexDb(join(dir, 'i.db')));
  await first.building;
  await first.k.close();
  first.db.close();
  const again = await keeper(driver, new IndexDb(join(dir, 'i.db')));
  assert.equal(again.building, undefined);
  assert.equal(again.k.complete(), true);
  assert.equal(again.db.totals().blobs, 5);
  again.db.close();
  await rm(dir, { recursive: true, force: true });
});

test('after an unclean stop, a reconcile adds what reached the store but not the index; an index of another store is rebuilt', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'regway-index-'));
  const driver = new MemoryDriver();
  await fill(driver, 5, 2);
  const first = await keeper(driver, new IndexDb(join(dir, 'i.db')));
  await first.building;
  first.db.close(); // no close(): the process died
  await fill(driver, 8, 2); // three more blobs, written to the store only
  const second = await keeper(driver, new IndexDb(join(dir, 'i.db')));
  assert.equal(second.k.progress.phase, 'reconciling');
  await second.building;
  assert.equal(second.db.totals().blobs, 8);
  await second.k.close();
  second.db.close();

  const other = new MemoryDriver();
  await fill(other, 2, 1);
  const third = await keeper(other, new IndexDb(join(dir, 'i.db')));
  assert.equal(third.k.progress.reason, 'the index describes another store');
  await third.building;
  assert.equal(third.db.totals().blobs, 2, 'nothing of the first store is left');
  third.db.close();
  await rm(dir, { recursive: true, force: true });
});

test('what is deleted while the build runs does not come back from its older listing', async () => {
  const driver = new MemoryDriver();
  await fill(driver, 200, 20);
  const db = new IndexDb(':memory:');
  const k = new IndexKeeper(db, driver, silentLogger());
  const meta = new IndexedMetadataStore(new DriverMetadataStore(driver), db, k);
  const { building } = await k.open();
  const r = repo('team/app-19');
  assert.equal(await meta.deleteTag(r, 'v1'), true); // before the build reaches the repositories
  await building;
  assert.equal(db.getTag(r, 'v1'), undefined);
  assert.deepEqual(await meta.listTags(r), []);
});

test('an index whose store id is gone from the store is rebuilt (the store was replaced)', async () => {
  const driver = new MemoryDriver();
  await fill(driver, 3, 1);
  const db = new IndexDb(':memory:');
  const a = new IndexKeeper(db, driver, silentLogger());
  await (await a.open()).building;
  await a.close();
  await driver.delete(STORE_ID_KEY);
  const b = new IndexKeeper(db, driver, silentLogger());
  const { building } = await b.open();
  assert.equal(b.progress.reason, 'the index describes another store');
  await building;
  assert.equal(db.totals().blobs, 3);
});

test('metadata keys parse back to their repository, kind and id; anything else is skipped', () => {
  const hex = 'a'.repeat(64);
  assert.deepEqual(parseRepositoryKey('repositories/ghcr.io_443/org/team/app/_tags/v1.2'), { repo: { registry: 'ghcr.io:443', name: 'org/team/app' }, kind: 'tag', id: 'v1.2' });
  assert.deepEqual(parseRepositoryKey(`repositories/_hosted/app/_blobs/sha256/${hex}`), { repo: { registry: '_hosted', name: 'app' }, kind: 'blob', id: `sha256:${hex}` });
  assert.deepEqual(parseRepositoryKey(`repositories/r/app/_referrers/sha256-${hex}/sha256-${hex}`)?.id, `sha256:${hex}/sha256:${hex}`);
  assert.equal(parseRepositoryKey('repositories/r/app/_tags/a/b'), undefined);
  assert.equal(parseRepositoryKey(`repositories/r/app/_manifests/md5/${hex}`), undefined);
  assert.equal(parseRepositoryKey('blobs/sha256/aa/x'), undefined);
});
