import { createWriteStream, fstatSync, mkdirSync, openSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

interface RotationOptions {
  /** Rotate when the file would grow past this many bytes (0 = never by size). */
  maxSize: number;
  /** Rotate when the file was opened longer ago than this (0 = never by time). */
  intervalMs: number;
  /** Rotated files kept; the oldest beyond it are deleted. */
  keep: number;
  /** Bytes waiting for the disk beyond which lines are dropped (and counted) instead of queued. */
  maxBuffered?: number;
  now?: () => number;
}

/**
 * An append-only JSON-lines file with size- and time-based rotation. `write` never waits for the
 * disk: lines go to a buffered stream, and if the disk falls far behind they are dropped and counted
 * rather than held without limit (an audit log must never slow or stop a pull).
 *
 * Rotation renames `audit.jsonl` to `audit-<UTC time>.jsonl` and opens a fresh file; writes still
 * buffered for the old descriptor land in the renamed file (POSIX rename keeps the inode), so no
 * line is lost or split. Filebeat follows files by inode and handles this rename pattern.
 */
export class RotatingFile {
  private stream!: WriteStream;
  private bytes = 0;
  private openedAt = 0;
  private readonly now: () => number;
  private readonly maxBuffered: number;
  dropped = 0;
  written = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  rotations = 0;

  constructor(readonly path: string, private readonly opts: RotationOptions) {
    this.now = opts.now ?? Date.now;
    this.maxBuffered = opts.maxBuffered ?? 16 * 1024 * 1024;
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    this.open();
  }

  write(line: string): void {
    const len = Buffer.byteLength(line);
    const now = this.now();
    const bySize = this.opts.maxSize > 0 && this.bytes > 0 && this.bytes + len > this.opts.maxSize;
    const byTime = this.opts.intervalMs > 0 && now - this.openedAt >= this.opts.intervalMs && this.bytes > 0;
    if (bySize || byTime) this.rotate(now);
    if (this.stream.writableLength + this.pendingBytes > this.maxBuffered) { this.dropped++; return; }
    // Lines of one tick go to the stream as one write: per-line stream writes cost more CPU than the
    // rest of the audit path on busy gateways.
    this.pending.push(line);
    this.pendingBytes += len;
    if (!this.flushScheduled) { this.flushScheduled = true; setImmediate(() => this.flush()); }
    this.bytes += len;
    this.written++;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.stream.write(chunk);
  }

  async close(): Promise<void> {
    this.flush();
    await new Promise<void>((r) => this.stream.end(r));
  }

  private open(): void {
    // Opened synchronously so the descriptor is bound to this inode before any rename (an async open
    // could happen after a rotation and write into the new file). 0640: lines name clients and users.
    const fd = openSync(this.path, 'a', 0o640);
    this.stream = createWriteStream('', { fd });
    this.stream.on('error', () => { this.dropped++; });
    this.bytes = fstatSync(fd).size;
    this.openedAt = this.now();
  }

  private rotate(now: number): void {
    const ext = extname(this.path);
    const base = basename(this.path, ext);
    const stamp = new Date(now).toISOString().replace(/[:]/g, '-');
    let target = join(dirname(this.path), `${base}-${stamp}${ext}`);
    for (let i = 1; exists(target); i++) target = join(dirname(this.path), `${base}-${stamp}.${i}${ext}`);
    try { renameSync(this.path, target); } catch { /* file vanished (removed by hand): just reopen */ }
    this.flush(); // lines written before the rotation belong to the old file
    const old = this.stream;
    old.end();
    this.open();
    this.rotations++;
    void this.prune(base, ext);
  }

  private async prune(base: string, ext: string): Promise<void> {
    const dir = dirname(this.path);
    try {
      // ISO timestamps sort lexically in time order.
      const rotated = (await readdir(dir)).filter((f) => f.startsWith(`${base}-`) && f.endsWith(ext)).sort();
      for (const f of rotated.slice(0, Math.max(0, rotated.length - this.opts.keep))) await unlink(join(dir, f)).catch(() => {});
    } catch { /* best effort */ }
  }
}

function exists(p: string): boolean {
  try { statSync(p); return true; } catch { return false; }
}
