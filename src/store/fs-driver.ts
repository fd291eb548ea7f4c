import { promises as fsp, constants } from 'node:fs';
import { join, dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../config/atomic-write.js';
import { assertSafeKey, NotFoundError, type ByteRange, type ObjectWriter, type StatInfo, type StorageDriver } from './driver.js';

const STATS_AT_ONCE = 64;
const READ_CHUNK = 1 << 20; // 1 MiB reads keep syscalls few on warm blob hits.

/** Local filesystem driver. Writes go to `<root>/_tmp/<uuid>`, are fsynced, then renamed into place. */
export class FsDriver implements StorageDriver {
  readonly name = 'filesystem';
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = join(root, '_tmp');
  }

  /** Creates the folders and removes temp files left by a crash: they were never committed. */
  async init(): Promise<void> {
    await fsp.rm(this.tmpDir, { recursive: true, force: true });
    await fsp.mkdir(this.tmpDir, { recursive: true });
  }

  private path(key: string): string {
    assertSafeKey(key);
    return join(this.root, key);
  }

  async stat(key: string): Promise<StatInfo | undefined> {
    try {
      const s = await fsp.stat(this.path(key));
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
    } catch (e) { if (isMissing(e)) return undefined; throw e; }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(this.path(key), constants.O_RDONLY); } catch (e) {
      if (isMissing(e)) throw new NotFoundError(key);
      throw e;
    }
    // Opening first means a missing object fails here, not later as a stream error. The stream owns
    // the handle and closes it exactly once (closing a raw fd twice can close someone else's socket).
    return fh.createReadStream({ autoClose: true, highWaterMark: READ_CHUNK, ...(range ?? {}) });
  }

  async openFile(key: string): Promise<{ fh: fsp.FileHandle; size: number } | undefined> {
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(this.path(key), constants.O_RDONLY); } catch (e) { if (isMissing(e)) return undefined; throw e; }
    const s = await fh.stat();
    return { fh, size: s.size };
  }

  async writer(key: string): Promise<ObjectWriter> {
    const finalPath = this.path(key);
    const tmp = join(this.tmpDir, randomUUID());
    const fh = await fsp.open(tmp, 'wx', 0o644);
    let done = false;
    return {
      localPath: tmp,
      write: async (chunk) => { await fh.write(chunk); },
      commit: async () => {
        if (done) return;
        done = true;
        await fh.sync();
        await fh.close();
        await fsp.mkdir(dirname(finalPath), { recursive: true });
        await fsp.rename(tmp, finalPath);
      },
      abort: async () => {
        if (done) return;
        done = true;
        await fh.close().catch(() => {});
        await fsp.rm(tmp, { force: true });
      },
    };
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    // The temp file goes to _tmp like a writer's: list() never sees it and init() clears it after a crash.
    await writeFileAtomic(this.path(key), bytes, { mode: 0o644, dirMode: 0o777, tmpDir: this.tmpDir });
  }

  async get(key: string): Promise<Buffer | undefined> {
    try { return await fsp.readFile(this.path(key)); } catch (e) { if (isMissing(e)) return undefined; throw e; }
  }

  async delete(key: string): Promise<boolean> {
    try { await fsp.unlink(this.path(key)); return true; } catch (e) { if (isMissing(e)) return false; throw e; }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; mtimeMs: number }> {
    const base = prefix.replace(/\/+$/, '');
    yield* this.walk(base);
  }

  private async *walk(key: string): AsyncIterable<{ key: string; size: number; mtimeMs: number }> {
    let entries;
    try { entries = await fsp.readdir(this.path(key), { withFileTypes: true }); } catch (e) { if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return; throw e; }
    const files = entries.filter((e) => e.isFile()).map((e) => `${key}/${e.name}`);
    // Stats in parallel groups: one at a time, listing a cache of 300 k blobs (the index build) took minutes.
    for (let i = 0; i < files.length; i += STATS_AT_ONCE) {
      const group = files.slice(i, i + STATS_AT_ONCE);
      const stats = await Promise.all(group.map((k) => fsp.stat(this.path(k)).catch(() => undefined)));
      for (let j = 0; j < group.length; j++) { const s = stats[j]; if (s) yield { key: group[j]!, size: s.size, mtimeMs: s.mtimeMs }; }
    }
    for (const e of entries) if (e.isDirectory()) yield* this.walk(`${key}/${e.name}`);
  }

  async touch(key: string): Promise<void> {
    const now = new Date();
    await fsp.utimes(this.path(key), now, now).catch(() => {});
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT';
}
