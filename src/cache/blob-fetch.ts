import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobWriter } from '../store/blob-store.js';
import type { Digest } from '../oci/digest.js';
import type { RepoKey } from '../oci/repo.js';

// Small enough that many concurrent cold streams stay cheap in memory, big enough for few syscalls.
const READ_CHUNK = 128 * 1024;
// Received bytes not yet on the spool: past this the fetch waits for the disk (memory stays bounded).
const MAX_UNFLUSHED = 8 * 1024 * 1024;
// Bytes already on the spool still kept in memory, so readers close behind the download never read the file.
const KEEP_FLUSHED = 4 * 1024 * 1024;
// One spool write takes the queued chunks up to this size: few syscalls, one thread-pool hop each.
const MAX_WRITE = 1024 * 1024;

/** A received chunk at its offset in the blob. */
interface Piece { start: number; buf: Buffer }

export type { OpenSource, SourceBody } from '../upstream/verbs.js';
import type { OpenSource, SourceBody } from '../upstream/verbs.js';

/** The store could not take the bytes (disk full, read-only): not the upstream's fault, never retried there. */
export class StoreWriteError extends Error {
  constructor(override readonly cause: Error) {
    super(`storage write failed: ${cause.message}`);
    this.name = 'StoreWriteError';
  }
}

/** Drops the first `n` bytes of a stream. */
async function* skipBytes(body: AsyncIterable<Uint8Array>, n: number): AsyncIterable<Uint8Array> {
  let left = n;
  for await (const chunk of body) {
    if (left >= chunk.length) { left -= chunk.length; continue; }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** Lets go of a source body that will not be read (frees the upstream connection). */
function discard(src: SourceBody): void {
  const b = src.body as AsyncIterable<Uint8Array> & { destroy?: () => void };
  if (typeof b.destroy === 'function') b.destroy();
  else void b[Symbol.asyncIterator]().return?.();
}

/** Raised to every reader when the fetched bytes do not match the digest, or the source broke. */
export class FetchFailedError extends Error {
  constructor(message: string, readonly kind: 'digest' | 'size' | 'source' | 'restart') {
    super(message);
    this.name = 'FetchFailedError';
  }
}

/**
 * One upstream download of one blob, shared by every client that wants it. Received bytes go to a
 * bounded window in memory and, in the background, to the driver's writer (whose local file
 * doubles as the spool). Readers close behind the download are fed from the window (no disk read,
 * no copy); a late or slow reader reads the spool file and catches up. The download never waits
 * for a reader, only for the disk when more than MAX_UNFLUSHED bytes are queued: a slow client
 * cannot slow the fetch or the others. The digest is checked at the end: on mismatch the write is
 * aborted and every reader is destroyed with an error, so no client sees a clean end of wrong bytes.
 */
export class BlobFetch extends EventEmitter {
  /** The repository the download was started for (joining it from another one needs a confirmation). */
  repo: RepoKey | undefined;
  /** Bytes received so far (readable: from the window in memory or from the spool). */
  written = 0;
  /** Bytes on the spool file (a prefix of `written`). */
  private flushed = 0;
  /** Received pieces from `window[0].start` to `written`: every unflushed one and a tail of flushed ones. */
  private window: Piece[] = [];
  private windowBytes = 0;
  private flushing: Promise<void> | undefined;
  private flushError: Error | undefined;
  /** Expected size, once the source told us (Content-Length). */
  size: number | undefined;
  done = false;
  error: Error | undefined;
  private readers = 0;
  private fh: fsp.FileHandle | undefined;
  /** Resolves when the size is known or the fetch failed: clients can then be answered. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;

  private writer: BlobWriter | undefined;
  /** run() has returned: the blob is committed (or dropped), so the spool may close. */
  private finished = false;

  /** Bumped when the download restarts from byte 0: readers of an older generation are aborted. */
  private generation = 0;
  private openWriter!: () => Promise<BlobWriter>;

  /**
   * spoolDir: where the private spool goes when the store's writer has no local file (S3).
   * expectedSize: the size the manifest's descriptor gives, when known: an upstream that announces
   * another length is wrong, whatever it sends.
   */
  constructor(readonly digest: Digest, private readonly spoolDir: string = tmpdir(), readonly expectedSize?: number) {
    super();
    this.setMaxListeners(0);
    this.ready = new Promise((res) => { this.resolveReady = res; });
  }

  /**
   * Runs the download: opens the store writer and its spool, asks the source for the body, then
   * streams it into the store while readers follow. Resolves once the blob is committed and
   * verified; rejects otherwise (errors before the first byte keep their own type, so the first
   * client gets the upstream's real answer).
   */
  async run(openWriter: () => Promise<BlobWriter>, openSource: OpenSource, maxResumes = 3, maxRestarts = 3): Promise<void> {
    this.openWriter = openWriter;
    try {
      // The store's writer and the upstream's answer are independent: open both at once (time to first byte).
      const [opened, asked] = await Promise.allSettled([this.openSink(), openSource(0)]);
      if (opened.status === 'rejected') {
        if (asked.status === 'fulfilled') discard(asked.value);
        throw opened.reason;
      }
      if (asked.status === 'rejected') throw asked.reason;
      let sink = opened.value;
      let src = asked.value;
      for (let restarts = 0; ; restarts++) {
        this.size = this.expectedSize ?? src.size;
        this.resolveReady();
        this.stable();
        try {
          await this.consume(src, openSource, maxResumes, sink);
          return;
        } catch (e) {
          // Wrong bytes or a wrong length: that source failed. Start over, from byte 0, elsewhere;
          // whoever already followed the wrong bytes is aborted (never handed a clean end).
          if (!(e instanceof FetchFailedError) || (e.kind !== 'digest' && e.kind !== 'size') || restarts >= maxRestarts) throw e;
          this.restarting = true;
          this.sink = undefined; // the loop stops: nothing more goes to a writer about to be aborted
          await this.settleFlush();
          // Readers of the wrong bytes are aborted first; openSink() then starts a fresh window.
          this.restartReaders(e.message);
          await this.writer?.abort().catch(() => {});
          sink = await this.openSink();
          src = await openSource(0, e.message, true);
        }
      }
    } catch (e) {
      this.fail(e as Error);
      this.sink = undefined;
      await this.settleFlush();
      await this.writer?.abort().catch(() => {});
      throw e;
    } finally {
      this.finished = true;
      this.resolveReady();
      this.stable();
      this.maybeClose();
    }
  }

  /** True from a restart until the next source is open: new readers wait (see whenStable). */
  private restarting = false;
  private stableWaiters: (() => void)[] = [];

  /**
   * Resolves when the download is not between two sources (a restart after wrong bytes): a client
   * that joins then must be told the new source's size and read the new generation's bytes.
   */
  whenStable(): Promise<void> {
    return this.restarting ? new Promise((r) => { this.stableWaiters.push(r); }) : Promise.resolve();
  }

  private stable(): void {
    this.restarting = false;
    for (const w of this.stableWaiters.splice(0)) w();
  }

  /**
   * A fresh store writer and the spool readers follow (its own file, or a private one). The old
   * spool stays open for readers of the old generation (they are aborted) and is swapped out in
   * one step once the new one exists.
   */
  private async openSink(): Promise<BlobWriter> {
    let writer: BlobWriter;
    try { writer = await this.openWriter(); } catch (e) { throw new StoreWriteError(e as Error); }
    const next = writer.localPath ? await fsp.open(writer.localPath, 'r') : undefined;
    const old = this.fh;
    if (old && this.readers === 0) void old.close().catch(() => {});
    else if (old) this.oldSpools.push(old);
    this.fh = next;
    this.writer = writer;
    this.resetWindow();
    return next ? writer : this.spooled(writer);
  }

  /** Spools of earlier generations, closed with the last reader. */
  private readonly oldSpools: fsp.FileHandle[] = [];

  private restartReaders(reason: string): void {
    this.generation++;
    this.emit('restart', reason);
    this.emit('progress');
  }

  /**
   * Appends source bytes until the blob is complete. When a source breaks (reset, timeout, early
   * end) the fetch continues from `openSource(written)`, i.e. the next upstream with a Range: the
   * hash runs over the bytes in order, so readers see one uninterrupted stream.
   */
  private async consume(first: SourceBody, openSource: OpenSource, maxResumes: number, writer: BlobWriter): Promise<void> {
    let src = first;
    if (this.expectedSize !== undefined && src.size !== undefined && src.size !== this.expectedSize) {
      throw new FetchFailedError(`upstream announced ${src.size} bytes; the manifest says ${this.expectedSize}`, 'size');
    }
    this.sink = writer;
    for (let resumes = 0; ; resumes++) {
      try {
        for await (const chunk of skipBytes(src.body, src.skip ?? 0)) {
          if (this.size !== undefined && this.written + chunk.length > this.size) throw new FetchFailedError(`upstream sent more than ${this.size} bytes`, 'size');
          this.accept(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
          if (this.written - this.flushed > MAX_UNFLUSHED) await this.flushedBelow(MAX_UNFLUSHED);
          if (this.flushError) throw new StoreWriteError(this.flushError);
        }
        if (this.size === undefined || this.written === this.size) break;
        throw new Error(`stream ended after ${this.written} of ${this.size} bytes`);
      } catch (e) {
        if (e instanceof FetchFailedError || e instanceof StoreWriteError) throw e;
        if (resumes >= maxResumes) throw new FetchFailedError(`upstream stream broke after ${this.written} bytes: ${(e as Error).message}`, 'source');
        this.emit('resume', { offset: this.written, reason: (e as Error).message });
        src = await openSource(this.written, (e as Error).message);
      }
    }
    // The store's writer hashed every byte as it wrote it: one pass, and the commit is refused unless they match.
    await this.settleFlush();
    if (this.flushError) throw new StoreWriteError(this.flushError);
    if (this.flushed !== this.written) throw new StoreWriteError(new Error(`spool holds ${this.flushed} of ${this.written} bytes`));
    if (!writer.verify()) throw new FetchFailedError(`digest mismatch: upstream bytes hash to ${writer.actual}`, 'digest');
    // Verified: readers may finish now; durability (fsync, rename) need not delay them.
    this.size = this.written;
    this.done = true;
    this.emit('progress');
    try { await writer.commit(); } catch (e) { throw new StoreWriteError(e as Error); }
  }

  /** The writer the flush loop writes to (the store's, or the spooling wrapper for object storage). */
  private sink: BlobWriter | undefined;

  /** Takes a received chunk: readers can have it at once; the spool gets it in the background. */
  private accept(buf: Buffer): void {
    this.window.push({ start: this.written, buf });
    this.windowBytes += buf.length;
    this.written += buf.length;
    this.emit('progress');
    this.startFlush();
  }

  /**
   * Writes the queued pieces to the spool in order, a few at a time (one syscall per MAX_WRITE).
   * Stops at the first error (kept in flushError: the download fails with it) or when the sink is
   * replaced by a restart.
   */
  private startFlush(): void {
    if (this.flushRunning || !this.sink) return;
    this.flushRunning = true;
    const run: Promise<void> = this.flushLoop(this.sink).finally(() => {
      if (this.flushing === run) this.flushing = undefined;
      this.emit('flushed');
    });
    this.flushing = run;
  }

  /**
   * True while a flush loop runs, cleared in the same tick it stops: a chunk accepted between the
   * loop's last check and its promise settling must start a new loop, or it would never be written.
   */
  private flushRunning = false;

  private async flushLoop(sink: BlobWriter): Promise<void> {
    try {
      await this.flushPieces(sink);
    } finally {
      this.flushRunning = false;
    }
  }

  private async flushPieces(sink: BlobWriter): Promise<void> {
    while (this.flushed < this.written && !this.flushError && this.sink === sink) {
      const parts: Buffer[] = [];
      let bytes = 0;
      for (const p of this.window) {
        if (p.start < this.flushed) continue;
        if (bytes > 0 && bytes + p.buf.length > MAX_WRITE) break;
        parts.push(p.buf);
        bytes += p.buf.length;
      }
      try {
        await sink.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes));
      } catch (e) {
        this.flushError = e as Error;
        this.emit('progress');
        return;
      }
      if (this.sink !== sink) return;
      this.flushed += bytes;
      this.trim();
      this.emit('flushed');
    }
  }

  /** Drops flushed pieces from the front of the window beyond KEEP_FLUSHED bytes. */
  private trim(): void {
    while (this.window.length > 0) {
      const p = this.window[0]!;
      if (p.start + p.buf.length > this.flushed || this.windowBytes - p.buf.length < KEEP_FLUSHED) return;
      this.window.shift();
      this.windowBytes -= p.buf.length;
    }
  }

  private async flushedBelow(max: number): Promise<void> {
    while (this.written - this.flushed > max && !this.flushError && this.flushing) await new Promise((r) => this.once('flushed', r));
  }

  /** Waits until nothing is being written to the spool (the end of a download, or before a restart or abort). */
  private async settleFlush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private resetWindow(): void {
    this.sink = undefined;
    this.window = [];
    this.windowBytes = 0;
    this.written = 0;
    this.flushed = 0;
    this.flushError = undefined;
  }

  /** The piece holding byte `pos`, when it is still in memory (binary search: pieces are in order). */
  private pieceAt(pos: number): Piece | undefined {
    const w = this.window;
    let lo = 0;
    let hi = w.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = w[mid]!;
      if (pos < p.start) hi = mid - 1;
      else if (pos >= p.start + p.buf.length) lo = mid + 1;
      else return p;
    }
    return undefined;
  }

  /**
   * For a writer without a local file (object storage): every chunk also goes to a private spool
   * file that readers follow. It is unlinked as soon as it is open, so its space is freed when
   * maybeClose() closes the last handle, and a crash cannot leave it behind.
   */
  private async spooled(writer: BlobWriter): Promise<BlobWriter> {
    const path = join(this.spoolDir, `regway-spool-${randomUUID()}`);
    const fh = await fsp.open(path, 'wx+', 0o600);
    this.fh = fh;
    await fsp.unlink(path);
    let pos = 0;
    return {
      get written() { return writer.written; },
      get actual() { return writer.actual; },
      write: async (chunk) => {
        const at = pos;
        pos += chunk.length;
        await Promise.all([fh.write(chunk, 0, chunk.length, at), writer.write(chunk)]);
      },
      verify: () => writer.verify(),
      commit: () => writer.commit(),
      abort: () => writer.abort(),
    };
  }

  fail(e: Error): void {
    if (this.error || this.done) return;
    this.error = e;
    this.emit('progress');
  }

  /**
   * A stream of bytes [start, end] that follows the download and ends only once the digest is
   * verified; undefined when the fetch has finished and closed its spool (read the store instead).
   */
  reader(start = 0, end?: number): Readable | undefined {
    // No spool while not finished: a restart is opening the next one (openSink), and the reader
    // waits for it; only a finished fetch sends its readers to the store.
    if (!this.fh && this.finished) return undefined;
    this.readers++;
    const gen = this.generation;
    let pos = start;
    let released = false;
    const release = () => { if (!released) { released = true; this.readers--; this.maybeClose(); } };
    const fetch = this;
    const stream = new Readable({
      highWaterMark: READ_CHUNK,
      read() { fetch.pump(this, gen, pos, end, (n) => { pos += n; }); },
      destroy(err, cb) { release(); cb(err); },
    });
    stream.on('end', release);
    return stream;
  }

  private pump(stream: Readable, gen: number, pos: number, end: number | undefined, advance: (n: number) => void): void {
    if (this.error) { stream.destroy(this.error); return; }
    if (gen !== this.generation) { stream.destroy(new FetchFailedError('the upstream sent wrong bytes; the download restarted from another upstream', 'restart')); return; }
    if (!this.fh) { this.once('progress', () => this.pump(stream, gen, pos, end, advance)); return; }
    const last = end ?? (this.done ? this.written - 1 : Infinity);
    if (pos > last) {
      // Everything asked for is out, but a clean end would claim the bytes are good: wait for the digest.
      if (this.done) stream.push(null);
      else this.once('progress', () => this.pump(stream, gen, pos, end, advance));
      return;
    }
    // Until the digest is verified, hold back the last byte asked for: a client that got every byte
    // (Content-Length satisfied) would take an abort after it as success.
    const limit = this.done ? last : Math.min(last - 1, (this.size ?? Infinity) - 2);
    const available = Math.min(this.written - 1, limit) - pos + 1;
    if (available <= 0) { this.once('progress', () => this.pump(stream, gen, pos, end, advance)); return; }
    const piece = this.pieceAt(pos);
    if (piece) {
      // In memory: a view of the received chunk, no copy and no disk read.
      const from = pos - piece.start;
      const view = piece.buf.subarray(from, Math.min(piece.buf.length, from + available));
      advance(view.length);
      stream.push(view);
      return;
    }
    // Behind the window: on the spool file (everything before the window is flushed).
    const len = Math.min(available, READ_CHUNK);
    const buf = Buffer.allocUnsafe(len);
    this.fh!.read(buf, 0, len, pos).then(({ bytesRead }) => {
      if (stream.destroyed) return;
      if (gen !== this.generation) { stream.destroy(new FetchFailedError('the upstream sent wrong bytes; the download restarted from another upstream', 'restart')); return; }
      advance(bytesRead);
      stream.push(bytesRead === len ? buf : buf.subarray(0, bytesRead));
    }, (e: Error) => stream.destroy(e));
  }

  get waiting(): number { return this.readers; }

  /**
   * Keeps the spool open between joining a fetch and creating a reader (the fetch may finish in
   * between). Call synchronously when joining; release once a reader exists or the client gave up.
   */
  hold(): () => void {
    this.readers++;
    let released = false;
    return () => { if (!released) { released = true; this.readers--; this.maybeClose(); } };
  }

  private maybeClose(): void {
    if (this.readers > 0) return;
    for (const old of this.oldSpools.splice(0)) void old.close().catch(() => {});
    if (this.finished && this.fh) {
      const fh = this.fh;
      this.fh = undefined;
      void fh.close().catch(() => {});
    }
  }
}
