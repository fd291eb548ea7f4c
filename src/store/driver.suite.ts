/**
 * The conformance suite every StorageDriver must pass. A driver's test file calls
 * `driverSuite(name, makeDriver)`; nothing here knows which driver it is testing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import type { StorageDriver } from './driver.js';
import { NotFoundError } from './driver.js';
import { BlobStore } from './blob-store.js';
import { parseDigest } from '../oci/digest.js';
import { waitFor } from '../testing/wait.js';

async function readAll(d: StorageDriver, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await d.read(key, range)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function driverSuite(name: string, make: () => Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }>): void {
  describe(`storage driver conformance: ${name}`, () => {
    let d: StorageDriver;
    let cleanup: () => Promise<void>;
    before(async () => { ({ driver: d, cleanup } = await make()); });
    after(async () => { await cleanup(); });

    it('put/get/stat/delete round trip', async () => {
      await d.put('a/b/small', Buffer.from('hello'));
      assert.equal((await d.get('a/b/small'))?.toString(), 'hello');
      assert.equal((await d.stat('a/b/small'))?.size, 5);
      assert.equal(await d.delete('a/b/small'), true);
      assert.equal(await d.stat('a/b/small'), undefined);
      assert.equal(await d.get('a/b/small'), undefined);
      assert.equal(await d.delete('a/b/small'), false);
    });

    it('a writer is invisible until commit, and abort leaves nothing', async () => {
      const w = await d.writer('w/obj');
      await w.write(Buffer.from('part1'));
      assert.equal(await d.stat('w/obj'), undefined);
      await w.write(Buffer.from('part2'));
      await w.commit();
      assert.equal((await d.get('w/obj'))?.toString(), 'part1part2');
      const w2 = await d.writer('w/aborted');
      await w2.write(Buffer.from('x'));
      await w2.abort();
      assert.equal(await d.stat('w/aborted'), undefined);
    });

    it('streams large objects and byte ranges exactly', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const w = await d.writer('big/one');
      for (let i = 0; i < data.length; i += 256 * 1024) await w.write(data.subarray(i, i + 256 * 1024));
      await w.commit();
      assert.ok((await readAll(d, 'big/one')).equals(data), '(await readAll(d, \'big/one\')).equals(data)');
      assert.ok((await readAll(d, 'big/one', { start: 1000, end: 1999 })).equals(data.subarray(1000, 2000)), '(await readAll(d, \'big/one\', { start: 1000, end: 1999 })).equals(data.subarray(1000, 2000))');
      assert.ok((await readAll(d, 'big/one', { start: data.length - 5, end: data.length - 1 })).equals(data.subarray(-5)), '(await readAll(d, \'big/one\', { start: data.length - 5, end: data.length - 1 })).equals(data.subarray(-5))');
    });

    it('reading a missing key rejects with NotFoundError', async () => {
      await assert.rejects(d.read('nope/nothing'), NotFoundError);
    });

    it('lists keys under a prefix recursively', async () => {
      await d.put('l/x/1', Buffer.from('1'));
      await d.put('l/x/y/2', Buffer.from('22'));
      await d.put('l/z', Buffer.from('333'));
      const keys: string[] = [];
      for await (const e of d.list('l/x')) keys.push(`${e.key}:${e.size}`);
      assert.deepEqual(keys.sort(), ['l/x/1:1', 'l/x/y/2:2']);
      const none: string[] = [];
      for await (const e of d.list('l/missing')) none.push(e.key);
      assert.deepEqual(none, []);
    });

    it('refuses keys that could escape the store', async () => {
      for (const bad of ['../etc/passwd', 'a/../../b', '/abs', 'a//b', 'a/./b', '']) {
        await assert.rejects(d.put(bad, Buffer.from('x')), /unsafe storage key/, bad);
        await assert.rejects(d.read(bad), /unsafe storage key/, bad);
      }
    });

    it('small objects: empty, binary, overwritten by put', async () => {
      await d.put('s/empty', new Uint8Array());
      assert.equal((await d.stat('s/empty'))?.size, 0);
      assert.equal((await d.get('s/empty'))?.length, 0);
      assert.equal((await readAll(d, 's/empty')).length, 0);
      const bin = Buffer.from([0, 255, 10, 13, 0, 128]);
      await d.put('s/bin', bin);
      assert.ok((await d.get('s/bin'))?.equals(bin), '(await d.get(\'s/bin\'))?.equals(bin)');
      await d.put('s/bin', Buffer.from('replaced'));
      assert.equal((await d.get('s/bin'))?.toString(), 'replaced');
      assert.equal((await d.stat('s/bin'))?.size, 8);
    });

    it('deleting a missing key answers false, under a missing folder too', async () => {
      assert.equal(await d.delete('del/never-written'), false);
      assert.equal(await d.delete('del/no/such/folder/key'), false);
      assert.equal(await d.stat('del/never-written'), undefined);
    });

    it('ranged reads: start and end inclusive, an end past the object reads to its end', async () => {
      const data = Buffer.from('0123456789');
      await d.put('r/ten', data);
      assert.equal((await readAll(d, 'r/ten', { start: 0, end: 0 })).toString(), '0');
      assert.equal((await readAll(d, 'r/ten', { start: 3, end: 5 })).toString(), '345');
      assert.equal((await readAll(d, 'r/ten', { start: 9, end: 9 })).toString(), '9');
      assert.equal((await readAll(d, 'r/ten', { start: 0, end: 9 })).toString(), '0123456789');
      assert.equal((await readAll(d, 'r/ten', { start: 7, end: 1_000_000 })).toString(), '789');
      await assert.rejects(d.read('r/missing', { start: 0, end: 1 }), NotFoundError);
    });

    it('touch marks an object used without changing it (a driver without touch: the blob store\'s touch is a no-op)', async () => {
      if (!d.touch) {
        // Object storage has no cheap mtime update: eviction there goes by write time, and callers must not fail.
        await d.put('t/obj', Buffer.from('same'));
        await new BlobStore(d, 'cache').touch(parseDigest(`sha256:${'0'.repeat(64)}`));
        assert.equal((await d.get('t/obj'))?.toString(), 'same');
        return;
      }
      await d.put('t/obj', Buffer.from('same'));
      const before = (await d.stat('t/obj'))!.mtimeMs;
      // The clock must move past the object's mtime for a newer one to be visible: time passing is the subject here.
      await waitFor(() => Date.now() > before + 20, 'the clock to pass the object mtime', 2_000);
      await d.touch('t/obj');
      const after = await d.stat('t/obj');
      assert.ok(after!.mtimeMs > before, `mtime ${after!.mtimeMs} after touch, ${before} before`);
      assert.equal((await d.get('t/obj'))?.toString(), 'same');
      await d.touch('t/never-written'); // best effort: no error, and no object appears
      assert.equal(await d.stat('t/never-written'), undefined);
    });

    it('abort leaves nothing: no new object, and an overwrite aborted keeps the old one', async () => {
      const w = await d.writer('ab/new');
      await w.abort();
      assert.equal(await d.stat('ab/new'), undefined);
      await d.put('ab/kept', Buffer.from('old'));
      const w2 = await d.writer('ab/kept');
      await w2.write(Buffer.from('never visible'));
      await w2.abort();
      assert.equal((await d.get('ab/kept'))?.toString(), 'old');
      const keys: string[] = [];
      for await (const e of d.list('ab')) keys.push(e.key);
      assert.deepEqual(keys, ['ab/kept']);
    });

    it('concurrent writers of one key: the last commit wins wholesale, readers never see a part', async () => {
      const key = 'cw/k';
      const content = (i: number) => Buffer.alloc(1000 + i * 333, 65 + i);
      const writers = await Promise.all([0, 1, 2].map(() => d.writer(key)));
      // Interleaved writes: every writer has half of its bytes written before any finishes.
      for (const half of [0, 1]) {
        for (const [i, w] of writers.entries()) {
          const c = content(i);
          const mid = Math.floor(c.length / 2);
          await w.write(half === 0 ? c.subarray(0, mid) : c.subarray(mid));
          assert.equal(await d.stat(key), undefined, 'nothing visible before a commit');
        }
      }
      await writers[2]!.commit();
      assert.ok((await d.get(key))?.equals(content(2)), '(await d.get(key))?.equals(content(2))');
      await writers[0]!.commit();
      assert.ok((await d.get(key))?.equals(content(0)), 'the later commit replaced the object whole');
      await writers[1]!.commit();
      assert.ok((await readAll(d, key)).equals(content(1)), '(await readAll(d, key)).equals(content(1))');
      assert.equal((await d.stat(key))?.size, content(1).length);
    });

    it('commits racing with readers: every read is one whole version', async () => {
      const key = 'cw/race';
      const versions = [0, 1, 2, 3].map((i) => Buffer.alloc(200_000 + i * 10_001, 97 + i));
      await d.put(key, versions[0]!);
      const isWhole = (b: Buffer) => versions.some((v) => v.equals(b));
      let writing = true;
      const reader = (async () => {
        let reads = 0;
        while (writing || reads === 0) {
          const b = await readAll(d, key);
          assert.ok(isWhole(b), `a read of ${b.length} bytes is not one whole version`);
          reads++;
        }
        return reads;
      })();
      await Promise.all(versions.slice(1).map(async (v) => {
        const w = await d.writer(key);
        for (let i = 0; i < v.length; i += 50_000) await w.write(v.subarray(i, i + 50_000));
        await w.commit();
      }));
      writing = false;
      assert.ok((await reader) > 0, '(await reader) > 0');
      assert.ok(isWhole((await d.get(key))!), 'the final object is one whole version');
    });

    it('lists exactly what is under a prefix: siblings with a common start are not under it', async () => {
      await d.put('lp/a/1', Buffer.from('1'));
      await d.put('lp/a/deep/er/2', Buffer.from('22'));
      await d.put('lp/ab/3', Buffer.from('333'));
      await d.put('lp/a-sibling', Buffer.from('4444'));
      const keys = async (p: string) => { const out: string[] = []; for await (const e of d.list(p)) out.push(`${e.key}:${e.size}`); return out.sort(); };
      assert.deepEqual(await keys('lp/a'), ['lp/a/1:1', 'lp/a/deep/er/2:2']);
      assert.deepEqual(await keys('lp/a/'), ['lp/a/1:1', 'lp/a/deep/er/2:2'], 'a trailing slash names the same folder');
      assert.deepEqual(await keys('lp/a/deep'), ['lp/a/deep/er/2:2']);
      assert.deepEqual(await keys('lp'), ['lp/a-sibling:4', 'lp/a/1:1', 'lp/a/deep/er/2:2', 'lp/ab/3:3']);
      assert.deepEqual(await keys('lp/a/1'), [], 'an object is not a folder');
      for await (const e of d.list('lp/ab')) assert.ok(e.mtimeMs > 0, 'listed objects carry their mtime');
    });

    it('overwrites atomically: a reader sees old or new, never a mix', async () => {
      await d.put('ow/k', Buffer.from('old-contents'));
      const w = await d.writer('ow/k');
      await w.write(Buffer.from('new-'));
      assert.equal(await text(await d.read('ow/k')), 'old-contents');
      await w.write(Buffer.from('contents'));
      await w.commit();
      assert.equal(await text(await d.read('ow/k')), 'new-contents');
    });
  });
}
