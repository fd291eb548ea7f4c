// SqliteBlobIndex (an in-memory database) against the BlobIndex conformance suite, plus what only
// it has: eviction waits while the index is being built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteBlobIndex } from './blob-index.js';
import { blobIndexSuite, D } from './blob-index.suite.js';
import { IndexDb } from '../store/index-db.js';
import { silentLogger } from '../obs/logger.js';
import type { Digest } from '../oci/digest.js';

function make(maxSize: number, complete = () => true) {
  const deleted: string[] = [];
  const db = new IndexDb(':memory:');
  const store = { delete: async (d: Digest) => { deleted.push(d.encoded[0]!); return true; } };
  const index = new SqliteBlobIndex(db, store, { complete }, maxSize, silentLogger());
  return { index, deleted, db, cleanup: async () => { await index.close(); db.close(); } };
}

blobIndexSuite('sqlite', async (max) => make(max));

test('eviction waits until the index is complete: it would pick by a partial view', async () => {
  let complete = false;
  const { index, deleted, cleanup } = make(50, () => complete);
  index.add(D('a'), 40); index.add(D('b'), 40);
  assert.equal(await index.evictIfNeeded(), 0);
  assert.deepEqual(deleted, []);
  complete = true;
  assert.equal(await index.evictIfNeeded(), 1);
  await cleanup();
});

test('uses are batched: a touch writes nothing until the flush', async () => {
  const { index, db, cleanup } = make(0);
  index.add(D('a'), 1); index.add(D('b'), 1);
  index.touch(D('a'));
  assert.deepEqual(db.lru({ atime: -1, digest: '' }, 10).map((r) => r.digest), [D('a'), D('b')], 'not written yet');
  index.flush();
  assert.deepEqual(db.lru({ atime: -1, digest: '' }, 10).map((r) => r.digest), [D('b'), D('a')]);
  await cleanup();
});

test('a blob committed again while its eviction page is deleted keeps its fresh row', async () => {
  const db = new IndexDb(':memory:');
  let index!: SqliteBlobIndex;
  const store = { delete: async (d: Digest) => { if (d.encoded[0] === 'a') index.add(D('a'), 40); return true; } }; // a refetch commits meanwhile
  index = new SqliteBlobIndex(db, store, { complete: () => true }, 50, silentLogger(), undefined, false);
  index.add(D('a'), 40); index.add(D('b'), 40);
  await index.evictIfNeeded();
  assert.equal(db.blobSize(D('a')), 40, 'the refetched blob is still indexed');
  db.close();
});
