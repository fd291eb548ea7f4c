import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand,
  type CompletedPart, type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectWriter } from './driver.js';

/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface MultipartOptions {
  /** Bytes per part (>= 5 MiB). Memory held per writer is about (concurrency + 1) x partSize. */
  partSize: number;
  /** Parts uploading at once; write() waits (backpressure) when all are busy. */
  concurrency: number;
  /** Wraps SDK errors with the operation, bucket and key (see s3-errors.ts). */
  wrap: (op: string, e: unknown) => Error;
}

/**
 * An atomic streaming write to one S3 key, as a multipart upload of the FINAL key that is
 * completed only in commit().
 *
 * Why the final key and not a temporary key copied into place: an incomplete multipart upload is
 * invisible to GET/HEAD/LIST by S3's own semantics, CompleteMultipartUpload makes it visible
 * atomically, and nothing needs copying afterwards (a server-side copy of a 1 GB layer doubles the
 * store's write work and is not atomic across the copy-then-delete pair). Abort is
 * AbortMultipartUpload, which frees every uploaded part. A crash between parts leaves only an
 * incomplete upload, never an object; S3Driver.init() aborts those once they are old enough
 * (and a bucket lifecycle rule AbortIncompleteMultipartUpload is the documented backstop).
 *
 * Why not lib-storage's Upload: its abort() rejects done() at once and sends
 * AbortMultipartUpload later in the background (or never, while its part readers still wait on an
 * open body stream), and it does not expose the upload id; here abort() returns only once the
 * upload is gone, which is what "abort leaves nothing" has to mean. Objects smaller than one part
 * go out as a single PutObject at commit.
 */
export class S3MultipartWriter implements ObjectWriter {
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  private uploadId: Promise<string> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private nextPart = 1;
  private failed: Error | undefined;
  private state: 'open' | 'committing' | 'closed' = 'open';

  constructor(private readonly s3: S3Client, private readonly bucket: string, private readonly key: string, private readonly opts: MultipartOptions) {
    if (opts.partSize < MIN_PART_SIZE) throw new Error(`S3 part size ${opts.partSize} is below the 5 MiB minimum`);
  }

  /** The chunk is owned by the writer once passed (Node stream semantics): callers must not reuse it. */
  async write(chunk: Uint8Array): Promise<void> {
    this.check('write');
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    while (this.pendingLen >= this.opts.partSize) await this.sendPart(this.take(this.opts.partSize));
  }

  async commit(): Promise<void> {
    if (this.state === 'closed') return;
    this.check('commit');
    this.state = 'committing';
    try {
      if (!this.uploadId) {
        const body = this.take(this.pendingLen);
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key, Body: body, ContentLength: body.length }))
          .catch((e) => { throw this.opts.wrap('PutObject', e); });
      } else {
        if (this.pendingLen > 0) await this.sendPart(this.take(this.pendingLen));
        await Promise.all([...this.inflight]);
        if (this.failed) throw this.failed;
        const UploadId = await this.uploadId;
        const Parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
        // The response's ETag is not used: RGW 16 returns it empty (a known RGW bug).
        await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId, MultipartUpload: { Parts } }))
          .catch((e) => { throw this.opts.wrap('CompleteMultipartUpload', e); });
      }
      this.state = 'closed';
    } catch (e) {
      this.state = 'open';
      await this.abort().catch(() => {});
      throw e;
    }
  }

  /** Returns once no part and no upload is left behind (in-flight parts are waited for first). */
  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    this.pendingLen = 0;
    await Promise.allSettled([...this.inflight]);
    const id = await this.uploadId?.catch(() => undefined);
    if (!id) return;
    await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: id })).catch((e: Error) => {
      if (e.name !== 'NoSuchUpload') throw this.opts.wrap('AbortMultipartUpload', e);
    });
  }

  private check(op: string): void {
    if (this.failed) throw this.failed;
    if (this.state !== 'open') throw new Error(`S3 writer for ${this.key}: ${op} after commit or abort`);
  }

  /** Cuts the first n pending bytes into one contiguous part body. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const head = this.pending[0]!;
      const k = Math.min(head.length, n - off);
      out.set(k === head.length ? head : head.subarray(0, k), off);
      off += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    this.pendingLen -= n;
    return out;
  }

  private async sendPart(body: Buffer): Promise<void> {
    while (this.inflight.size >= this.opts.concurrency) await Promise.race(this.inflight);
    if (this.failed) throw this.failed;
    if (this.state === 'closed') throw new Error(`S3 writer for ${this.key}: aborted`);
    this.uploadId ??= this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key }))
      .then((r) => r.UploadId!, (e) => { throw this.opts.wrap('CreateMultipartUpload', e); });
    const PartNumber = this.nextPart++;
    const p: Promise<void> = this.uploadPart(PartNumber, body)
      .catch((e: Error) => { this.failed ??= e; })
      .finally(() => { this.inflight.delete(p); });
    this.inflight.add(p);
  }

  private async uploadPart(PartNumber: number, Body: Buffer): Promise<void> {
    const UploadId = await this.uploadId!;
    const r = await this.s3.send(new UploadPartCommand({ Bucket: this.bucket, Key: this.key, UploadId, PartNumber, Body, ContentLength: Body.length }))
      .catch((e) => { throw this.opts.wrap('UploadPart', e); });
    if (!r.ETag) throw new Error(`S3 UploadPart ${PartNumber} of ${this.key} returned no ETag`);
    this.parts.push({ PartNumber, ETag: r.ETag });
  }
}
