// BlobFetch with a store writer that has no local file (the S3 driver's case): readers follow a
// private spool file instead, which never shows up on disk and is gone once the readers are.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobFetch } from './blob-fetch.js';
import { parseDigest } from '../oci/digest.js';
import type { ObjectWriter } from '../store/driver.js';
import { verifiedWriter } from '../store/blob-store.js';

function memoryWriter(): ObjectWriter & { chunks: Buffer[]; state: string } {
  const w = {
    chunks: [] as Buffer[], state: 'open',
    write: async (c: Uint8Array) => { w.chunks.push(Buffer.from(c)); },
    commit: async () => { w.state = 'committed'; },
    abort: async () => { w.state = 'aborted'; },
  };
  return w;
}

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** A source whose chunks are released one by one by the test. */
function gatedSource(data: Buffer, chunk: number) {
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const next = () => { gate = new Promise((r) => { release = r; }); };
  next();
  return {
    open: async () => ({
      size: data.length,
      body: (async function* () {
        for (let i = 0; i < data.length; i += chunk) { await gate; next(); yield data.subarray(i, i + chunk); }
      })(),
    }),
    step: () => release(),
  };
}

describe('BlobFetch spool fallback (writer without localPath)', () => {
  it('readers early and late get exact bytes; the spool never appears on disk and closes after them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-spooltest-'));
    try {
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const digest = parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
      const fetch = new BlobFetch(digest, dir);
      const w = memoryWriter();
      const src = gatedSource(data, 256 * 1024);
      const done = fetch.run(async () => verifiedWriter(fetch.digest, w), src.open);
      await fetch.ready;
      const early = collect(fetch.reader()!);
      for (let i = 0; i < 5; i++) { src.step(); await new Promise((r) => setImmediate(r)); }
      assert.deepEqual(readdirSync(dir), [], 'the spool is unlinked as soon as it is open');
      const late = collect(fetch.reader(1000)!);
      const timer = setInterval(() => src.step(), 1);
      await done;
      clearInterval(timer);
      assert.ok((await early).equals(data));
      assert.ok((await late).equals(data.subarray(1000)));
      assert.equal(w.state, 'committed');
      assert.ok(Buffer.concat(w.chunks).equals(data), 'the store writer got every byte too');
      assert.equal(fetch.reader(), undefined, 'spool closed once the fetch finished and its readers left');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('a digest mismatch aborts the store writer and fails the readers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-spooltest-'));
    try {
      const data = randomBytes(600 * 1024);
      const fetch = new BlobFetch(parseDigest(`sha256:${'0'.repeat(64)}`), dir);
      const w = memoryWriter();
      const src = gatedSource(data, 64 * 1024);
      const done = fetch.run(async () => verifiedWriter(fetch.digest, w), src.open);
      await fetch.ready;
      const reader = collect(fetch.reader()!).then(() => new Error('clean end'), (e: Error) => e);
      const timer = setInterval(() => src.step(), 1);
      await assert.rejects(done, /digest mismatch/);
      clearInterval(timer);
      // Never a clean end: the reader is aborted (by the restart from byte 0, or the final failure).
      assert.match((await reader).message, /digest mismatch|wrong bytes/);
      assert.equal(w.state, 'aborted');
      assert.deepEqual(readdirSync(dir), []);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
