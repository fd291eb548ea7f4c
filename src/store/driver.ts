import type { Readable } from 'node:stream';

/**
 * The storage-driver boundary. Keys are relative slash-separated paths built by store/paths.ts
 * from validated names and digests; drivers refuse anything else. Every driver passes
 * store/driver.suite.ts.
 */
export interface StorageDriver {
  readonly name: string;
  stat(key: string): Promise<StatInfo | undefined>;
  /** A stream of the object, or of bytes [start, end] inclusive. Rejects with NotFoundError. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Starts an atomic write: nothing is visible at `key` until commit(). */
  writer(key: string): Promise<ObjectWriter>;
  /** Small objects (metadata) written atomically in one call. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  delete(key: string): Promise<boolean>;
  /** Every key under a prefix, recursively. */
  list(prefix: string): AsyncIterable<{ key: string; size: number; mtimeMs: number }>;
  /** Marks an object as recently used (best effort; drivers may ignore it). */
  touch?(key: string): Promise<void>;
  /**
   * Optional capability: the object as an open local file, for the zero-garbage send path.
   * Undefined when the object does not exist.
   */
  openFile?(key: string): Promise<{ fh: import('node:fs/promises').FileHandle; size: number } | undefined>;
  /** Optional capability (object stores): where a client may GET the object itself for `expiresInSec`, without credentials. */
  presignGet?(key: string, expiresInSec: number): Promise<string>;
  /** Optional capability (object stores): the object's key in its bucket, prefix included, for a CDN in front of the bucket. */
  bucketKey?(key: string): string;
}

export interface StatInfo { size: number; mtimeMs: number }
export interface ByteRange { start: number; end: number }

export interface ObjectWriter {
  /**
   * A local file that holds the bytes written so far, readable while the write goes on (optional
   * capability: the cache spools to its own file when a driver has none).
   */
  readonly localPath?: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the object visible at its key, durably. */
  commit(): Promise<void>;
  /** Drops everything written; never leaves a partial object. */
  abort(): Promise<void>;
}

export class NotFoundError extends Error {
  constructor(key: string) { super(`not found: ${key}`); this.name = 'NotFoundError'; }
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._:@+-]*)*$/;

/** Defence in depth: keys come from validated input, but a driver still refuses traversal. */
export function assertSafeKey(key: string): void {
  if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`unsafe storage key refused: ${JSON.stringify(key.slice(0, 200))}`);
  }
}
