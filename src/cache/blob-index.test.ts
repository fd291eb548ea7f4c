import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobIndex } from './blob-index.js';
import { silentLogger } from '../obs/logger.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../store/blob-store.js';

/** Blobs named a, b, c... by the first letter of a digest's hex. */
const D = (c: string) => `sha256:${c.repeat(64)}`;
function fakeStore(deleted: string[]): Pick<BlobStore, 'list' | 'delete' | 'touch'> {
  return {
    delete: async (d: Digest) => { deleted.push(d.encoded[0]!); return true; },
    touch: async () => {},
    list: async function* () { /* empty */ },
  };
}

test('evicts least recently used first, down to 90% of the cap', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeStore(deleted), 100, silentLogger());
  idx.add(D('a'), 40); idx.add(D('b'), 40); idx.add(D('c'), 40);
  idx.touch(D('a')); // b is now the oldest
  assert.equal(idx.size, 120);
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b']);
  assert.equal(idx.size, 80);
});

test('never evicts a pinned blob', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeStore(deleted), 50, silentLogger());
  idx.add(D('a'), 40); idx.add(D('b'), 40);
  const release = idx.pin(D('a'));
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b']);
  release();
  idx.add(D('c'), 40);
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b', 'a']);
});

test('no cap means no eviction', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeStore(deleted), 0, silentLogger());
  idx.add(D('a'), 1e12);
  assert.equal(await idx.evictIfNeeded(), 0);
});
