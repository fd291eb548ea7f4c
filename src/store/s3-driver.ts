import type { Readable } from 'node:stream';
import {
  S3Client, HeadObjectCommand, GetObjectCommand, PutObjectCommand, DeleteObjectCommand, ListObjectsV2Command,
  CreateBucketCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertSafeKey, NotFoundError, type ByteRange, type ObjectWriter, type StatInfo, type StorageDriver } from './driver.js';
import { S3MultipartWriter, MIN_PART_SIZE } from './s3-writer.js';
import { isMissingObject, s3Code, wrapS3Error } from './s3-errors.js';

export interface S3DriverOptions {
  bucket: string;
  /** AWS region; S3-compatible stores mostly accept any (us-east-1). */
  region: string;
  /** Custom endpoint for Ceph RGW, MinIO, R2... (https://host:port). Absent: AWS S3. */
  endpoint?: string;
  /** Bucket in the path instead of the host name. Default: on with a custom endpoint, off for AWS. */
  forcePathStyle?: boolean;
  /** Key prefix, so several gateways (or other data) can share one bucket. */
  prefix?: string;
  /** Static credentials; absent: the SDK's default chain (env, ~/.aws, web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size (default 8 MiB, minimum 5 MiB). */
  partSize?: number;
  /** Parts uploading at once per writer (default 2). */
  uploadConcurrency?: number;
  /** Connections to S3 at most (every client streaming a cached blob holds one). Default 256. */
  maxSockets?: number;
  /** Create the bucket at init() when it is missing (labs and tests; production pre-creates it). */
  createBucket?: boolean;
  /** Keys per ListObjectsV2 page (S3's maximum, 1000, by default; tests lower it to exercise paging). */
  listPageSize?: number;
}

const LIST_PAGE = 1000;
/** Incomplete uploads older than this are a crashed writer's leftovers; younger ones may be a live peer's. */
const STALE_UPLOAD_MS = 24 * 3_600_000;

/**
 * S3-compatible object storage (AWS S3, Ceph RGW, MinIO, R2). Writes are multipart uploads to the
 * final key, completed at commit (see s3-writer.ts); reads are GETs with a Range. S3 has no cheap
 * way to bump an object's mtime, so touch() is not offered: after a restart LRU order falls back
 * to write time.
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly s3: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(private readonly opts: S3DriverOptions) {
    this.bucket = opts.bucket;
    this.prefix = normalizePrefix(opts.prefix ?? '');
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    if (this.partSize < MIN_PART_SIZE) throw new Error(`storage.s3.partSize must be at least 5MiB (S3's minimum part size)`);
    this.concurrency = Math.max(1, opts.uploadConcurrency ?? 2);
    const agent = { keepAlive: true, maxSockets: opts.maxSockets ?? 256 };
    this.s3 = new S3Client({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? opts.endpoint !== undefined,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // Current SDKs send streamed bodies as aws-chunked with a CRC32 trailer by default; Ceph before
      // Reef rejects that and some fakes store the framing as data. Digests are verified by us anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 5_000,
        // Idle time on a socket; a reader held back by a slow client may sit this long.
        socketTimeout: 120_000,
        httpAgent: agent,
        httpsAgent: agent,
      },
    });
  }

  /** Where this driver's objects live, for messages: s3://bucket/prefix. */
  get location(): string { return `s3://${this.bucket}/${this.prefix}`; }

  /**
   * Fails fast, at start, with a clear message when the bucket or the credentials are wrong (a GET
   * listing, not HeadBucket: HEAD errors carry no code), creates the bucket if asked, and aborts
   * multipart uploads a crashed writer left more than a day ago.
   */
  async init(): Promise<void> {
    try {
      await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
    } catch (e) {
      if (!(this.opts.createBucket && s3Code(e) === 'NoSuchBucket')) throw wrapS3Error('ListObjectsV2', `s3://${this.bucket}`, e);
      await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((err) => { throw wrapS3Error('CreateBucket', `s3://${this.bucket}`, err); });
    }
    await this.abortStaleUploads(STALE_UPLOAD_MS);
  }

  /** Aborts incomplete multipart uploads under our prefix initiated more than olderThanMs ago. */
  async abortStaleUploads(olderThanMs: number, now = Date.now()): Promise<number> {
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix, KeyMarker, UploadIdMarker }))
        .catch((e) => { throw wrapS3Error('ListMultipartUploads', this.location, e); });
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || now - u.Initiated.getTime() < olderThanMs) continue;
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })).catch(() => {});
        aborted++;
      }
      [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [undefined, undefined];
    } while (KeyMarker);
    return aborted;
  }

  private k(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  private where(key: string): string { return `s3://${this.bucket}/${this.prefix}${key}`; }

  async stat(key: string): Promise<StatInfo | undefined> {
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.k(key) }));
      return { size: r.ContentLength ?? 0, mtimeMs: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isMissingObject(e)) return undefined;
      throw wrapS3Error('HeadObject', this.where(key), e);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const Key = this.k(key);
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      // In Node the body is the http.IncomingMessage itself: a Readable with backpressure.
      return r.Body as Readable;
    } catch (e) {
      if (isMissingObject(e)) throw new NotFoundError(key);
      throw wrapS3Error('GetObject', this.where(key), e);
    }
  }

  /**
   * A SigV4 presigned GET of one object: the signature covers the method, the host and this exact
   * key, so the URL cannot be turned into another object's; a Range header is not signed, so the
   * client may still ask for part of it. Computed locally (no request to the store).
   */
  presignGet(key: string, expiresInSec: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: this.k(key) }), { expiresIn: expiresInSec });
  }

  bucketKey(key: string): string { return this.k(key); }

  async writer(key: string): Promise<ObjectWriter> {
    const Key = this.k(key);
    return new S3MultipartWriter(this.s3, this.bucket, Key, {
      partSize: this.partSize,
      concurrency: this.concurrency,
      wrap: (op, e) => wrapS3Error(op, this.where(key), e),
    });
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const Key = this.k(key);
    // A single PutObject is atomic in S3: readers see the old object or the new one.
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: bytes, ContentLength: bytes.length }))
      .catch((e) => { throw wrapS3Error('PutObject', this.where(key), e); });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const Key = this.k(key);
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (isMissingObject(e)) return undefined;
      throw wrapS3Error('GetObject', this.where(key), e);
    }
  }

  /** S3's DELETE succeeds whether or not the key existed, so a HEAD tells which (racy, but only informative). */
  async delete(key: string): Promise<boolean> {
    const existed = (await this.stat(key)) !== undefined;
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.k(key) }))
      .catch((e) => { if (!isMissingObject(e)) throw wrapS3Error('DeleteObject', this.where(key), e); });
    return existed;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number; mtimeMs: number }> {
    const base = prefix.replace(/\/+$/, '');
    // A trailing slash, so listing "l/x" never returns "l/xyz".
    const Prefix = `${this.k(base)}/`;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken, MaxKeys: this.opts.listPageSize ?? LIST_PAGE }))
        .catch((e) => { throw wrapS3Error('ListObjectsV2', this.where(`${base}/`), e); });
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue; // "folder" markers some tools create
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Closes pooled connections. */
  close(): void { this.s3.destroy(); }
}

function normalizePrefix(p: string): string {
  const t = p.replace(/^\/+|\/+$/g, '');
  if (t === '') return '';
  assertSafeKey(t);
  return `${t}/`;
}
