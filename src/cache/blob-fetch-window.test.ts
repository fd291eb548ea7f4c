// BlobFetch feeds readers close behind the download from memory and writes the spool in the
// background. What that must not break: a slow client never slows the fetch or the others, memory
// stays bounded when the disk is slow, and readers far behind still read exact bytes from the file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobFetch, StoreWriteError } from './blob-fetch.js';
import { parseDigest } from '../oci/digest.js';
import type { ObjectWriter } from '../store/driver.js';
import { verifiedWriter } from '../store/blob-store.js';
import { FsDriver } from '../store/fs-driver.js';
import { waitFor } from '../testing/wait.js';

const digestOf = (b: Buffer) => parseDigest(`sha256:${createHash('sha256').update(b).digest('hex')}`);

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** A source of `data` in 64 KiB chunks that counts what it handed out. */
function countingSource(data: Buffer) {
  const s = {
    served: 0,
    open: async (offset: number) => ({
      size: data.length - offset,
      body: (async function* () {
        for (let i = offset; i < data.length; i += 64 * 1024) {
          const c = data.subarray(i, Math.min(data.length, i + 64 * 1024));
          s.served += c.length;
          yield c;
        }
      })(),
    }),
  };
  return s;
}

describe('BlobFetch: readers fed from memory, spool written behind', () => {
  it('a client that stops reading slows neither the download nor the other clients', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-window-'));
    try {
      const driver = new FsDriver(dir);
      await driver.init();
      const data = randomBytes(24 * 1024 * 1024);
      const fetch = new BlobFetch(digestOf(data), dir);
      const src = countingSource(data);
      const fast = { stream: undefined as Readable | undefined };
      const running = fetch.run(async () => verifiedWriter(fetch.digest, await driver.writer('blob')), async (o) => {
        const s = await src.open(o);
        return s;
      });
      await fetch.ready;
      const slow = fetch.reader()!;
      fast.stream = fetch.reader()!;
      // The slow client reads one chunk, then nothing until the others are done.
      const first = await new Promise<Buffer>((r) => slow.once('data', (c: Buffer) => { slow.pause(); r(c); }));
      const fastBytes = await collect(fast.stream);
      await running;
      assert.ok(fastBytes.equals(data), 'the fast client got the exact blob while the slow one waited');
      assert.equal(src.served, data.length, 'the download finished without the slow client');
      // The slow one then catches up from the spool (the window no longer holds the start).
      const rest = await collect(slow.resume());
      assert.ok(Buffer.concat([first, rest]).equals(data), 'and the slow client gets the exact blob too, late');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a stalled disk stops the download after a bounded amount of memory, and it resumes when the disk does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-window-'));
    try {
      const data = randomBytes(40 * 1024 * 1024);
      let release!: () => void;
      const stalled = new Promise<void>((r) => { release = r; });
      const chunks: Buffer[] = [];
      const raw: ObjectWriter = {
        write: async (c) => { await stalled; chunks.push(Buffer.from(c)); },
        commit: async () => {},
        abort: async () => {},
      };
      const src = countingSource(data);
      const fetch = new BlobFetch(digestOf(data), dir);
      const running = fetch.run(async () => verifiedWriter(fetch.digest, raw), (o) => src.open(o));
      await waitFor(() => src.served > 4 * 1024 * 1024, 'the download to start');
      // Let the event loop run a while with the disk stalled: the download must not run ahead.
      for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
      assert.ok(src.served <= 10 * 1024 * 1024, `at most ~8 MiB taken from the source while the disk is stalled, got ${src.served}`);
      release();
      await running;
      assert.equal(src.served, data.length);
      assert.ok(Buffer.concat(chunks).equals(data), 'the spool got every byte, in order');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a disk that fails mid-download fails the download and every reader with the store\'s error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-window-'));
    try {
      const data = randomBytes(6 * 1024 * 1024);
      let n = 0;
      const raw: ObjectWriter = {
        write: async () => { if (++n === 3) throw new Error('ENOSPC: no space left on device'); },
        commit: async () => {},
        abort: async () => {},
      };
      const fetch = new BlobFetch(digestOf(data), dir);
      const src = countingSource(data);
      const running = fetch.run(async () => verifiedWriter(fetch.digest, raw), (o) => src.open(o));
      await fetch.ready;
      const reader = fetch.reader()!;
      const paused = fetch.reader()!;
      paused.pause();
      await assert.rejects(running, (e: Error) => e instanceof StoreWriteError && /ENOSPC/.test(e.message));
      await assert.rejects(collect(reader), /ENOSPC|storage write failed/, 'the reader is aborted, never ended cleanly');
      await assert.rejects(collect(paused.resume()), /ENOSPC|storage write failed/, 'and so is a reader that was not reading');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('BlobFetch: the background spool writer never misses a chunk', () => {
  it('chunks arriving just as the writer goes idle are all written (thousands of small downloads, exact every time)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-window-'));
    try {
      let failures = 0;
      for (let run = 0; run < 3000; run++) {
        const data = randomBytes(3 * 1024);
        const written: Buffer[] = [];
        // A writer that finishes at once: the spool writer goes idle between almost every two chunks.
        const raw: ObjectWriter = { write: async (c) => { for (let k = 0; k < (run >> 2) % 5; k++) await Promise.resolve(); written.push(Buffer.from(c)); }, commit: async () => {}, abort: async () => {} };
        const fetch = new BlobFetch(digestOf(data), dir);
        const open = async () => ({
          size: data.length,
          body: (async function* () {
            for (let i = 0; i < data.length; i += 1024) {
              for (let k = 0; k < run % 11; k++) await Promise.resolve();
              yield data.subarray(i, i + 1024);
            }
          })(),
        });
        try {
          await fetch.run(async () => verifiedWriter(fetch.digest, raw), open, 0, 0);
          if (!Buffer.concat(written).equals(data)) failures++;
        } catch { failures++; }
      }
      assert.equal(failures, 0, 'every download wrote every byte, in order, and verified');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
