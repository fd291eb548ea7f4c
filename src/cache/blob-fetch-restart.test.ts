// One bad source must not poison a blob: wrong bytes or a wrong length restart the download from
// byte 0 on the next source; readers that followed the wrong bytes are aborted, later readers get
// the exact blob, and the store only ever commits verified bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobFetch, FetchFailedError, StoreWriteError, type OpenSource } from './blob-fetch.js';
import { parseDigest } from '../oci/digest.js';
import type { ObjectWriter } from '../store/driver.js';
import { verifiedWriter } from '../store/blob-store.js';
import { waitFor } from '../testing/wait.js';

function memoryWriters() {
  const all: { chunks: Buffer[]; state: string }[] = [];
  const open = async (): Promise<ObjectWriter> => {
    const w = { chunks: [] as Buffer[], state: 'open' };
    all.push(w);
    return { write: async (c) => { w.chunks.push(Buffer.from(c)); }, commit: async () => { w.state = 'committed'; }, abort: async () => { w.state = 'aborted'; } };
  };
  return { all, open };
}

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

const digestOf = (b: Buffer) => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);

async function* chunks(b: Buffer, size = 32 * 1024, pause = 0): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += size) {
    // the time is the subject: a slow source, so readers attach while the fetch is still running
    if (pause) await new Promise((r) => setTimeout(r, pause));
    yield b.subarray(i, i + size);
  }
}

describe('BlobFetch restarts on bad bytes', () => {
  it('a mirror sending wrong bytes: followers are aborted, the next source is read from byte 0, exact bytes are committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-restart-'));
    try {
      const good = randomBytes(300 * 1024);
      const bad = Buffer.from(good); bad[1000] = bad[1000]! ^ 0xff;
      const calls: [number, string | undefined, boolean | undefined][] = [];
      const open: OpenSource = async (offset, why, restart) => {
        calls.push([offset, why, restart]);
        return { size: good.length, body: chunks(calls.length === 1 ? bad : good, 32 * 1024, 2) };
      };
      const w = memoryWriters();
      const fetch = new BlobFetch(digestOf(good), dir);
      const done = fetch.run(async () => verifiedWriter(fetch.digest, await w.open()), open);
      await fetch.ready;
      const early = collect(fetch.reader()!);
      await assert.rejects(early, /wrong bytes/, 'a follower of the wrong bytes sees an abort, never a clean end');
      const late = fetch.reader();
      await done;
      assert.deepEqual(calls.map((c) => [c[0], c[2]]), [[0, undefined], [0, true]]);
      assert.match(calls[1]![1]!, /digest mismatch/);
      assert.deepEqual(w.all.map((x) => x.state), ['aborted', 'committed']);
      assert.ok(Buffer.concat(w.all[1]!.chunks).equals(good), 'Buffer.concat(w.all[1]!.chunks).equals(good)');
      assert.ok(late, 'a reader of the new generation exists');
      assert.ok((await collect(late)).equals(good), 'a reader of the new generation gets the exact blob');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a reader that joins while a restart opens the next spool waits for it (it is not sent to the store)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-restart-'));
    try {
      const good = randomBytes(200 * 1024);
      const bad = Buffer.from(good); bad[10] = bad[10]! ^ 0xff;
      let sources = 0;
      const open: OpenSource = async () => ({ size: good.length, body: chunks(++sources === 1 ? bad : good) });
      const w = memoryWriters();
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      let reopening = false;
      // The second store writer opens only when the test says: the window between two spools.
      const gated = async () => { if (w.all.length === 1) { reopening = true; await gate; } return verifiedWriter(fetch.digest, await w.open()); };
      const fetch = new BlobFetch(digestOf(good), dir);
      const done = fetch.run(gated, open);
      await waitFor(() => reopening, 'the restart to open the next writer');
      const joined = fetch.reader();
      assert.ok(joined, 'a reader, not "the store has it": the store has nothing yet');
      release();
      await done;
      assert.ok((await collect(joined)).equals(good), 'the exact blob, from the next source');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a length that disagrees with the manifest fails that source before any byte flows: the client is never told a wrong size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-restart-'));
    try {
      const good = randomBytes(100 * 1024);
      let n = 0;
      const open: OpenSource = async () => (++n === 1 ? { size: 10, body: chunks(good.subarray(0, 10)) } : { size: good.length, body: chunks(good) });
      const w = memoryWriters();
      const fetch = new BlobFetch(digestOf(good), dir, good.length);
      const done = fetch.run(async () => verifiedWriter(fetch.digest, await w.open()), open);
      await fetch.ready;
      assert.equal(fetch.size, good.length, 'the size announced to clients is the descriptor\'s');
      const r = fetch.reader();
      await done;
      assert.equal(n, 2);
      assert.equal(w.all[0]!.chunks.length, 0, 'no byte of the refused source reached the store');
      assert.ok(r, 'a reader joined while the download ran');
      // This reader may belong to the first (refused) source or the second: either an abort or the exact blob.
      const got = await collect(r).catch((e: Error) => e);
      assert.ok(got instanceof Error ? /wrong bytes/.test(got.message) : got.equals(good), 'an abort or the exact blob, never the refused bytes');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('restarts are bounded: a source that is always wrong fails the fetch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-restart-'));
    try {
      const good = randomBytes(10 * 1024);
      const open: OpenSource = async () => ({ size: good.length, body: chunks(randomBytes(good.length)) });
      const fetch = new BlobFetch(digestOf(good), dir);
      await assert.rejects(fetch.run(async () => verifiedWriter(fetch.digest, await memoryWriters().open()), open), (e: Error) => e instanceof FetchFailedError && e.kind === 'digest');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a store that cannot write (disk full) is a storage error, not a source break: the source is not retried', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-restart-'));
    try {
      const good = randomBytes(100 * 1024);
      let opens = 0;
      const open: OpenSource = async () => { opens++; return { size: good.length, body: chunks(good) }; };
      const full = async (): Promise<ObjectWriter> => ({
        write: async () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }); },
        commit: async () => {}, abort: async () => {},
      });
      const fetch = new BlobFetch(digestOf(good), dir);
      await assert.rejects(fetch.run(async () => verifiedWriter(fetch.digest, await full()), open), (e: Error) => e instanceof StoreWriteError && (e.cause as { code?: string }).code === 'ENOSPC');
      assert.equal(opens, 1);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
