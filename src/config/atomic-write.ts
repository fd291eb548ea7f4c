// Replacing a file so that a crash at any instant leaves either the old bytes or the new ones, never a mix or an empty
// file: write a temp file beside the target, fsync it, rename it over the target, fsync the directory (the rename is
// only durable once the directory entry is). On any error the temp file is removed and the old file is untouched.
// Every writer of state (runtime configs, SLO and status counters, keys, htpasswd, the pid file, the filesystem
// store's small objects) goes through here. It lives in config, the lowest layer that does file I/O, so each of them
// may import it. npm's write-file-atomic was not used: it does not fsync the directory and copies the old file's
// mode and owner, where callers here state them.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

interface AtomicWriteOptions {
  /** Permissions of the new file (default 0o600). The umask applies, as for fs.writeFile, unless `exactMode`. */
  mode?: number;
  /** Give the file exactly `mode` whatever the umask, set before the rename so it never shows other bits. */
  exactMode?: boolean;
  /** Owner given to the file before the rename (only when both are set). */
  uid?: number;
  gid?: number;
  /** Create the target's missing parent directories with this mode (umask applies); without it they must exist. */
  dirMode?: number;
  /** Where the temp file goes instead of the target's directory. Must be on the same filesystem: a rename cannot cross. */
  tmpDir?: string;
}

/** `.<name>.regway-<pid>-<hex>.tmp`: hidden, never mistaken for the target, and recognisable as ours after a crash. */
function tempPath(path: string, tmpDir: string | undefined): string {
  return join(tmpDir ?? dirname(path), `.${basename(path)}.regway-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** With `exactMode` the temp file starts private and gets its mode once written. */
function createMode(opts: AtomicWriteOptions): number {
  return opts.exactMode ? 0o600 : (opts.mode ?? 0o600);
}

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

/** Synchronous, for code that is synchronous throughout (`regway config apply`, the pid file at start-up). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.dirMode !== undefined) mkdirSync(dir, { recursive: true, mode: opts.dirMode });
  const mode = opts.mode ?? 0o600;
  const tmp = tempPath(path, opts.tmpDir);
  const fd = openSync(tmp, 'wx', createMode(opts));
  try {
    try {
      const b = bytesOf(data);
      for (let off = 0; off < b.length;) off += writeSync(fd, b, off);
      if (opts.exactMode) fchmodSync(fd, mode);
      if (opts.uid !== undefined && opts.gid !== undefined) fchownSync(fd, opts.uid, opts.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already renamed or gone */
    }
    throw e;
  }
  fsyncDirSync(dir);
}

/** Asynchronous, for the gateway: its event loop keeps serving while the disk syncs. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  if (opts.dirMode !== undefined) await mkdir(dir, { recursive: true, mode: opts.dirMode });
  const mode = opts.mode ?? 0o600;
  const tmp = tempPath(path, opts.tmpDir);
  const fh = await open(tmp, 'wx', createMode(opts));
  try {
    try {
      await fh.writeFile(bytesOf(data));
      if (opts.exactMode) await fh.chmod(mode);
      if (opts.uid !== undefined && opts.gid !== undefined) await fh.chown(opts.uid, opts.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes temp files a killed writer left beside `path` (between its write and its rename): never the target's content. */
export function removeStaleTempsSync(path: string): void {
  const dir = dirname(path);
  const re = new RegExp(`^\\.${basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.regway-\\d+-[0-9a-f]+\\.tmp$`);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names)
    if (re.test(n)) {
      try {
        unlinkSync(join(dir, n));
      } catch {
        /* raced */
      }
    }
}
