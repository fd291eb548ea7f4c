/**
 * The conformance suite for BlobIndex: what the cache relies on for LRU eviction under a size
 * cap. Implementations: SqliteBlobIndex (blob-index.test.ts) and the fleet's shared index.
 * Nothing here knows which one it is testing. Totals are read after a flush: a shared index writes
 * asynchronously and reads its totals back then.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BlobIndex } from './blob-index.js';

/** Blobs named a, b, c... by the first letter of a digest's hex. */
export const D = (c: string) => `sha256:${c.repeat(64)}`;
/** A made index with the cap given, and the letters of what it deleted from the store, in order. */
export type MakeIndex = (maxSize: number) => Promise<{ index: BlobIndex; deleted: string[]; cleanup?: () => Promise<void> }>;

export function blobIndexSuite(name: string, make: MakeIndex): void {
  describe(`blob index conformance: ${name}`, () => {
    it('evicts least recently used first, down to 90% of the cap', async () => {
      const { index, deleted, cleanup } = await make(100);
      index.add(D('a'), 40); index.add(D('b'), 40); index.add(D('c'), 40);
      index.touch(D('a')); // b is now the oldest
      await index.flush();
      assert.equal(index.size, 120);
      assert.equal(index.count, 3);
      assert.equal(await index.evictIfNeeded(), 1);
      assert.deepEqual(deleted, ['b']);
      assert.equal(index.size, 80);
      assert.equal(index.evictions, 1);
      await cleanup?.();
    });

    it('never evicts a pinned blob, and a released pin makes it evictable again', async () => {
      const { index, deleted, cleanup } = await make(50);
      index.add(D('a'), 40); index.add(D('b'), 40);
      const release = index.pin(D('a'));
      await index.evictIfNeeded();
      assert.deepEqual(deleted, ['b']);
      release();
      release(); // twice is once
      index.add(D('c'), 40);
      await index.evictIfNeeded();
      assert.deepEqual(deleted, ['b', 'a']);
      await cleanup?.();
    });

    it('two pins need two releases', async () => {
      const { index, deleted, cleanup } = await make(50);
      index.add(D('a'), 40); index.add(D('b'), 40);
      const r1 = index.pin(D('a'));
      const r2 = index.pin(D('a'));
      r1();
      r1(); // a second release of the same pin releases nothing
      index.touch(D('b'));
      await index.evictIfNeeded();
      assert.deepEqual(deleted, ['b'], 'a is still pinned once');
      r2();
      await cleanup?.();
    });

    it('no cap means no eviction', async () => {
      const { index, deleted, cleanup } = await make(0);
      index.add(D('a'), 1e12);
      assert.equal(await index.evictIfNeeded(), 0);
      assert.deepEqual(deleted, []);
      await cleanup?.();
    });

    it('a forgotten blob leaves the totals and is never evicted', async () => {
      const { index, deleted, cleanup } = await make(50);
      index.add(D('a'), 40); index.add(D('b'), 40);
      index.forget(D('a'));
      await index.flush();
      assert.equal(index.size, 40);
      assert.equal(index.count, 1);
      assert.equal(await index.evictIfNeeded(), 0);
      assert.deepEqual(deleted, []);
      await cleanup?.();
    });

    it('adding a blob again replaces its size, not adds to it', async () => {
      const { index, cleanup } = await make(0);
      index.add(D('a'), 40);
      index.add(D('a'), 50);
      await index.flush();
      assert.equal(index.size, 50);
      assert.equal(index.count, 1);
      await cleanup?.();
    });

    it('a blob served but never indexed (a crash before its row) is indexed by its use', async () => {
      const { index, deleted, cleanup } = await make(50);
      index.touch(D('a'), 40);
      await index.flush();
      assert.equal(index.size, 40);
      index.add(D('b'), 40);
      await index.evictIfNeeded();
      assert.deepEqual(deleted, ['a'], 'a counts, and was used before b');
      await cleanup?.();
    });

    it('recency survives many uses within one millisecond', async () => {
      const { index, deleted, cleanup } = await make(100);
      for (const c of 'abcdef') index.add(D(c), 20);
      for (const c of 'fedcb') index.touch(D(c)); // a oldest, then f, e, d, c, b
      await index.evictIfNeeded(); // 120 -> at most 90: two go
      assert.deepEqual(deleted, ['a', 'f']);
      await cleanup?.();
    });
  });
}
