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
      assert.ok((await readAll(d, 'big/one')).equals(data));
      assert.ok((await readAll(d, 'big/one', { start: 1000, end: 1999 })).equals(data.subarray(1000, 2000)));
      assert.ok((await readAll(d, 'big/one', { start: data.length - 5, end: data.length - 1 })).equals(data.subarray(-5)));
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
