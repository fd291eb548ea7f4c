import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { ByteRange, StatInfo, StorageDriver } from '../store/driver.js';
import { BlobStore, DigestMismatchError, type BlobWriter, type StoredBlob } from '../store/blob-store.js';

/**
 * Content-addressed bytes of hosted repositories. Every write is verified against its digest
 * before it becomes visible: the driver writes to a temp object and commits only on a match, so
 * a mismatched or interrupted upload leaves nothing at the digest's key.
 */
export class HostedContent {
  /** Digests used since the last GC mark began; GC keeps them even if it saw no reference. */
  private readonly recent = new Set<string>();
  private tracking = false;

  private readonly store: BlobStore;

  constructor(driver: StorageDriver) { this.store = new BlobStore(driver, 'hosted'); }

  stat(d: Digest): Promise<StatInfo | undefined> { return this.store.stat(d); }

  read(d: Digest, range?: ByteRange): Promise<Readable> { return this.store.open(d, range); }

  /** Small content (manifests), checked against its digest: undefined when missing or damaged. */
  get(d: Digest): Promise<Buffer | undefined> { return this.store.getVerified(d); }

  delete(d: Digest): Promise<boolean> { return this.store.delete(d); }

  list(): AsyncIterable<StoredBlob> { return this.store.list(); }

  /** Records a use (HEAD before push, mount, manifest reference) so a concurrent GC spares it. */
  used(digest: string): void {
    if (this.tracking) this.recent.add(digest);
  }

  wasUsed(digest: string): boolean { return this.recent.has(digest); }

  /** GC: start remembering uses; the returned function ends it and gives what was used. */
  track(): () => Set<string> {
    this.recent.clear();
    this.tracking = true;
    return () => { this.tracking = false; const out = new Set(this.recent); this.recent.clear(); return out; };
  }

  /**
   * Writes the digest's object from `feed`, which writes bytes to the writer (it hashes them).
   * Throws DIGEST_INVALID (nothing kept) when the bytes hash to something else.
   */
  async ingest(d: Digest, feed: (w: BlobWriter) => Promise<number>): Promise<number> {
    const w = await this.store.writer(d);
    try {
      const size = await feed(w);
      if (!w.verify()) throw new RegistryError('DIGEST_INVALID', 'the uploaded bytes do not match the digest; nothing was stored', { digest: d.value });
      await w.commit();
      this.used(d.value);
      return size;
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** Stores small content (manifests) whose digest the caller computed from the bytes. */
  async putVerified(d: Digest, bytes: Buffer): Promise<void> {
    try {
      await this.store.putVerified(d, bytes);
    } catch (e) {
      if (e instanceof DigestMismatchError) throw new RegistryError('DIGEST_INVALID', e.message, { digest: d.value });
      throw e;
    }
    this.used(d.value);
  }
}
