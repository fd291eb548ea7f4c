import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobIndex } from './blob-index.js';
import { silentLogger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';

function fakeDriver(deleted: string[]): StorageDriver {
  return { delete: async (k: string) => { deleted.push(k); return true; } } as unknown as StorageDriver;
}

test('evicts least recently used first, down to 90% of the cap', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeDriver(deleted), 100, silentLogger());
  idx.add('a', 40); idx.add('b', 40); idx.add('c', 40);
  idx.touch('a'); // b is now the oldest
  assert.equal(idx.size, 120);
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b']);
  assert.equal(idx.size, 80);
});

test('never evicts a pinned blob', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeDriver(deleted), 50, silentLogger());
  idx.add('a', 40); idx.add('b', 40);
  const release = idx.pin('a');
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b']);
  release();
  idx.add('c', 40);
  await idx.evictIfNeeded();
  assert.deepEqual(deleted, ['b', 'a']);
});

test('no cap means no eviction', async () => {
  const deleted: string[] = [];
  const idx = new BlobIndex(fakeDriver(deleted), 0, silentLogger());
  idx.add('a', 1e12);
  assert.equal(await idx.evictIfNeeded(), 0);
});
