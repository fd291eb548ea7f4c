import { Readable } from 'node:stream';
import { assertSafeKey, NotFoundError, type ByteRange, type ObjectWriter, type StatInfo, type StorageDriver } from './driver.js';

/** Chunk size of read streams: a reader gets the object in pieces, as from a file or a socket. */
const READ_CHUNK = 64 * 1024;

interface MemoryObject { bytes: Buffer; mtimeMs: number }

/**
 * Every object in this process's memory (`storage.driver: memory`): for tests and throw-away
 * gateways; nothing survives a restart. Objects are replaced as a whole at commit, so a reader that
 * opened the old one keeps reading the old bytes (as with a renamed file or an S3 object).
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  private readonly objects = new Map<string, MemoryObject>();

  /** Bytes held, for tests and logs. */
  get bytes(): number {
    let n = 0;
    for (const o of this.objects.values()) n += o.bytes.length;
    return n;
  }

  async stat(key: string): Promise<StatInfo | undefined> {
    assertSafeKey(key);
    const o = this.objects.get(key);
    return o ? { size: o.bytes.length, mtimeMs: o.mtimeMs } : undefined;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    assertSafeKey(key);
    const o = this.objects.get(key);
    if (!o) throw new NotFoundError(key);
    // An end past the object reads to its end, as a file stream and S3 do.
    const bytes = range ? o.bytes.subarray(range.start, range.end + 1) : o.bytes;
    return Readable.from(chunks(bytes), { objectMode: false });
  }

  async writer(key: string): Promise<ObjectWriter> {
    assertSafeKey(key);
    const parts: Buffer[] = [];
    let done = false;
    const open = (what: string) => { if (done) throw new Error(`memory writer for ${key}: ${what} after commit or abort`); };
    return {
      write: async (chunk) => { open('write'); parts.push(Buffer.from(chunk)); },
      commit: async () => {
        if (done) return;
        done = true;
        this.objects.set(key, { bytes: Buffer.concat(parts), mtimeMs: Date.now() });
      },
      abort: async () => { done = true; parts.length = 0; },
    };
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    assertSafeKey(key);
    // A copy: the caller may reuse its buffer.
    this.objects.set(key, { bytes: Buffer.from(bytes), mtimeMs: Date.now() });
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertSafeKey(key);
    const o = this.objects.get(key);
    return o ? Buffer.from(o.bytes) : undefined;
  }

  async delete(key: string): Promise<boolean> {
    assertSafeKey(key);
    return this.objects.delete(key);
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; mtimeMs: number }> {
    const base = prefix.replace(/\/+$/, '');
    assertSafeKey(base);
    // A trailing slash, so listing "l/x" never returns "l/xyz" (as the other drivers).
    const under = `${base}/`;
    // A snapshot: keys written while the caller iterates are not its concern.
    for (const [key, o] of [...this.objects]) {
      if (key.startsWith(under)) yield { key, size: o.bytes.length, mtimeMs: o.mtimeMs };
    }
  }

  async touch(key: string): Promise<void> {
    assertSafeKey(key);
    const o = this.objects.get(key);
    if (o) o.mtimeMs = Date.now();
  }
}

function* chunks(bytes: Buffer): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += READ_CHUNK) yield bytes.subarray(i, i + READ_CHUNK);
}
