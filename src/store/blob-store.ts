import type { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { digestOf, hasher, parseDigest, type Digest } from '../oci/digest.js';
import type { ByteRange, ObjectWriter, StatInfo, StorageDriver } from './driver.js';
import { blobKey, hostedBlobKey, HOSTED_BLOBS_PREFIX, quarantineKey } from './paths.js';

/** Where a blob store keeps its content: the cache's (evictable) or hosted repositories' (never evicted). */
export type BlobNamespace = 'cache' | 'hosted';

/** A stored blob, as listings give it. */
export interface StoredBlob { digest: string; size: number; mtimeMs: number }

/**
 * A write of one blob that hashes and counts every byte as it goes, and commits only when the
 * bytes hash to the digest: nothing else is ever visible under it. While it runs, `localPath`
 * (when the driver has one) holds the bytes written so far, for readers that follow the write.
 */
export interface BlobWriter {
  readonly localPath?: string;
  /** Bytes written so far. */
  readonly written: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the hash: whether the bytes are the digest's. No writes after it. */
  verify(): boolean;
  /** What the bytes hash to (after verify). */
  readonly actual: string | undefined;
  /** Makes the blob visible, durably; refuses (and aborts) when the bytes do not match. */
  commit(): Promise<void>;
  /** Drops everything written. */
  abort(): Promise<void>;
}

/** The bytes do not hash to the digest: nothing was stored. */
export class DigestMismatchError extends Error {
  constructor(readonly digest: string, readonly actual: string) {
    super(`the bytes hash to ${actual}, not ${digest}; nothing was stored`);
    this.name = 'DigestMismatchError';
  }
}

/**
 * Content-addressed blobs over a storage driver: the one place above the drivers that knows a
 * blob's key and how a blob is verified. The cache and hosted repositories each have one
 * (namespaced), and so does anything else that reads or writes blobs (the fleet's peer endpoint).
 */
export class BlobStore {
  private readonly keyOf: (d: Digest) => string;
  private readonly prefix: string;

  constructor(readonly driver: StorageDriver, readonly namespace: BlobNamespace) {
    this.keyOf = namespace === 'cache' ? blobKey : hostedBlobKey;
    this.prefix = namespace === 'cache' ? 'blobs' : HOSTED_BLOBS_PREFIX;
  }

  stat(d: Digest): Promise<StatInfo | undefined> { return this.driver.stat(this.keyOf(d)); }

  /** A stream of the blob, or of bytes [start, end]; rejects with NotFoundError. */
  open(d: Digest, range?: ByteRange): Promise<Readable> { return this.driver.read(this.keyOf(d), range); }

  /** The blob as an open local file (stores that have one), for the zero-copy send path. */
  async openFile(d: Digest): Promise<{ fh: FileHandle; size: number } | undefined> {
    return this.driver.openFile ? this.driver.openFile(this.keyOf(d)).catch(() => undefined) : undefined;
  }

  /** A presigned URL of the blob (object stores; docs/redirects.md); throws when the driver has none. */
  presign(d: Digest, expiresInSec: number): Promise<string> {
    if (!this.driver.presignGet) throw new Error(`storage driver ${this.driver.name} cannot presign URLs`);
    return this.driver.presignGet(this.keyOf(d), expiresInSec);
  }

  /** The blob's key in its bucket (object stores), for a CDN in front of the bucket. */
  bucketKey(d: Digest): string {
    if (!this.driver.bucketKey) throw new Error(`storage driver ${this.driver.name} has no bucket keys`);
    return this.driver.bucketKey(this.keyOf(d));
  }

  /** A small blob (a manifest) read whole and checked: undefined when missing or damaged. */
  async getVerified(d: Digest): Promise<Buffer | undefined> {
    const buf = await this.driver.get(this.keyOf(d));
    return buf && digestOf(buf, d.algorithm) === d.value ? buf : undefined;
  }

  /** Stores a small blob whose digest is checked first. */
  async putVerified(d: Digest, bytes: Uint8Array): Promise<void> {
    const actual = digestOf(bytes, d.algorithm);
    if (actual !== d.value) throw new DigestMismatchError(d.value, actual);
    await this.driver.put(this.keyOf(d), bytes);
  }

  async writer(d: Digest): Promise<BlobWriter> {
    return verifiedWriter(d, await this.driver.writer(this.keyOf(d)));
  }

  delete(d: Digest): Promise<boolean> { return this.driver.delete(this.keyOf(d)); }

  async touch(d: Digest): Promise<void> { await this.driver.touch?.(this.keyOf(d)); }

  /** Every blob (or those of one shard: `sha256/ab`), in the driver's order. */
  async *list(shard?: string): AsyncIterable<StoredBlob> {
    for await (const e of this.driver.list(shard ? `${this.prefix}/${shard}` : this.prefix)) {
      const digest = digestOfKey(e.key);
      if (digest) yield { digest, size: e.size, mtimeMs: e.mtimeMs };
    }
  }

  /** Copies a damaged blob aside (`quarantine/…`, for inspection) and removes it from service. */
  async quarantine(d: Digest): Promise<string | undefined> {
    const target = quarantineKey(this.keyOf(d));
    let kept: string | undefined;
    try {
      const w = await this.driver.writer(target);
      try {
        for await (const chunk of await this.driver.read(this.keyOf(d)) as AsyncIterable<Buffer>) await w.write(chunk);
        await w.commit();
        kept = target;
      } catch (e) { await w.abort(); throw e; }
    } catch { /* unreadable: nothing to keep */ }
    await this.driver.delete(this.keyOf(d));
    return kept;
  }
}

function digestOfKey(key: string): string | undefined {
  const m = /\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(key);
  if (!m) return undefined;
  try { return parseDigest(`${m[1]}:${m[2]}`).value; } catch { return undefined; }
}

/** A BlobWriter over a raw object writer (tests and drivers give the raw one). */
export function verifiedWriter(d: Digest, w: ObjectWriter): BlobWriter {
  const h = hasher(d.algorithm);
  let written = 0;
  let actual: string | undefined;
  const verify = () => {
    actual ??= `${d.algorithm}:${h.digest('hex')}`;
    return actual === d.value;
  };
  return {
    localPath: w.localPath,
    get written() { return written; },
    get actual() { return actual; },
    async write(chunk) {
      if (actual !== undefined) throw new Error('write after verify');
      h.update(chunk);
      await w.write(chunk);
      written += chunk.length;
    },
    verify,
    async commit() {
      if (!verify()) { await w.abort(); throw new DigestMismatchError(d.value, actual!); }
      await w.commit();
    },
    abort: () => w.abort(),
  };
}
