// IndexedMetadataStore against the metadata conformance suite: with a complete index (reads and
// listings from SQLite), and while the index is being built (reads fall back to the files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutableMetadataStoreSuite } from './metadata.suite.js';
import { DriverMetadataStore } from './metadata.js';
import { IndexedMetadataStore } from './indexed-metadata.js';
import { IndexDb } from './index-db.js';
import { MemoryDriver } from './memory-driver.js';
import { digestOf, parseDigest } from '../oci/digest.js';

function make(complete: boolean) {
  const driver = new MemoryDriver();
  const db = new IndexDb(':memory:');
  const files = new DriverMetadataStore(driver);
  const store = new IndexedMetadataStore(files, db, { complete: () => complete });
  return { store, files, db, cleanup: async () => db.close() };
}

mutableMetadataStoreSuite('indexed metadata, index complete', async () => make(true));
mutableMetadataStoreSuite('indexed metadata, index being built', async () => make(false));

const repo = { registry: 'r.test', name: 'team/app' };
const d = parseDigest(digestOf(Buffer.from('m')));
const tag = { digest: d.value, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 3, checkedAt: 1 };

test('while building, what only the files have is read from them and indexed on the way', async () => {
  const { store, files, db, cleanup } = make(false);
  await files.putTag(repo, 'v1', tag); // written by a process that crashed before its row
  assert.deepEqual(await store.getTag(repo, 'v1'), tag);
  assert.deepEqual(db.getTag(repo, 'v1'), tag);
  assert.deepEqual(db.repositories(), [repo], 'the repository is listed too');
  await cleanup();
});

test('once complete, the index alone answers: no file read per lookup', async () => {
  const { store, files, cleanup } = make(true);
  await files.putManifestLink(repo, d, { mediaType: tag.mediaType, size: 3 });
  assert.equal(await store.getManifestLink(repo, d), undefined);
  await cleanup();
});

test('the catalog pages in display order: bare on the default registry and hosted, prefixed otherwise', async () => {
  const { store, cleanup } = make(true);
  for (const r of [{ registry: 'docker.io', name: 'library/b' }, { registry: 'ghcr.io', name: 'a' }, { registry: '_hosted', name: 'a' }, { registry: 'docker.io', name: 'c' }]) await store.putTag(r, 'v1', tag);
  const all = store.page(undefined, 10, 'docker.io')!.map((r) => r.display);
  assert.deepEqual(all, ['a', 'c', 'ghcr.io/a', 'library/b']);
  assert.deepEqual(store.page('c', 1, 'docker.io')!.map((r) => r.display), ['ghcr.io/a']);
  // A new default registry renames once.
  assert.deepEqual(store.page(undefined, 10, 'ghcr.io')!.map((r) => r.display), ['a', 'a', 'docker.io/c', 'docker.io/library/b']);
  await cleanup();
});

test('a repository leaves the catalog with its last tag and manifest', async () => {
  const { store, cleanup } = make(true);
  await store.putTag(repo, 'v1', tag);
  await store.putManifestLink(repo, d, { mediaType: tag.mediaType, size: 3 });
  await store.deleteTag(repo, 'v1');
  assert.equal(store.page(undefined, 10, 'docker.io')!.length, 1);
  await store.deleteManifestLink(repo, d);
  assert.deepEqual(store.page(undefined, 10, 'docker.io'), []);
  await cleanup();
});

test('while building, the catalog says it cannot answer (the caller lists the files)', async () => {
  const { store, cleanup } = make(false);
  assert.equal(store.page(undefined, 10, 'docker.io'), undefined);
  await cleanup();
});
