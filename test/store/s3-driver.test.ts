// The S3 driver against a real Ceph RADOS Gateway on loopback: the shared conformance suite, then
// what only S3 has (multipart bookkeeping, signatures, paging, prefixes). No fake: s3rver accepts
// wrong signatures and corrupts streamed uploads; Ceph RGW implements SigV4 and multipart as S3 does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { driverSuite } from '../../src/store/driver.suite.js';
import { S3Driver, type S3DriverOptions } from '../../src/store/s3-driver.js';
import { S3StorageError } from '../../src/store/s3-errors.js';
import { startCeph, type Ceph } from '../helpers/ceph.js';

const MB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readAll(d: S3Driver, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await d.read(key, range)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 driver on a real Ceph RGW', { timeout: 300_000 }, () => {
  let ceph: Ceph;
  const drivers: S3Driver[] = [];
  before(async () => { ceph = await startCeph(); });
  after(async () => { for (const d of drivers) d.close(); await ceph?.stop(); });

  const make = async (o: Partial<S3DriverOptions> = {}): Promise<S3Driver> => {
    const d = new S3Driver({
      bucket: o.bucket ?? await ceph.createBucket(), region: ceph.region, endpoint: ceph.endpoint,
      credentials: { accessKeyId: ceph.accessKey, secretAccessKey: ceph.secretKey }, ...o,
    });
    drivers.push(d);
    return d;
  };
  const uploads = async (d: S3Driver, bucket: string) =>
    (await d.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

  driverSuite('s3 (Ceph RGW)', async () => {
    const d = await make();
    await d.init();
    return { driver: d, cleanup: async () => {} };
  });

  // Same suite under a key prefix with the smallest part size: the 3 MB object stays a single PUT,
  // so the multipart path is covered by the tests below.
  driverSuite('s3 (Ceph RGW), key prefix, 5 MiB parts', async () => {
    const d = await make({ prefix: 'team/regway', partSize: 5 * MB });
    await d.init();
    return { driver: d, cleanup: async () => {} };
  });

  it('a wrong secret key fails init and reads with SignatureDoesNotMatch and a hint', async () => {
    const bucket = await ceph.createBucket();
    const d = await make({ bucket, credentials: { accessKeyId: ceph.accessKey, secretAccessKey: 'not-the-secret' } });
    await assert.rejects(d.init(), (e: Error) => {
      assert.ok(e instanceof S3StorageError, String(e));
      assert.match(e.message, /SignatureDoesNotMatch/);
      assert.match(e.message, /secretAccessKey/);
      assert.doesNotMatch(e.message, /not-the-secret/);
      return true;
    });
    await assert.rejects(d.get('blobs/x'), /SignatureDoesNotMatch/);
    // HEAD answers carry no error body: still an error, never "not found".
    await assert.rejects(d.stat('blobs/x'), /S3 HeadObject .* failed: .*403/);
  });

  it('a missing bucket is named at init; createBucket: true creates it', async () => {
    const bucket = `regway-missing-${randomBytes(4).toString('hex')}`;
    await assert.rejects((await make({ bucket })).init(), /NoSuchBucket.*createBucket/s);
    const d = await make({ bucket, createBucket: true });
    await d.init();
    await d.put('k', Buffer.from('v'));
    assert.equal((await d.get('k'))?.toString(), 'v');
  });

  it('an aborted multipart writer leaves no object and no incomplete upload', async () => {
    const bucket = await ceph.createBucket();
    const d = await make({ bucket, partSize: 5 * MB });
    const w = await d.writer('blobs/aborted');
    // Three full parts with two uploading at once: the third write waits for a finished part, so the
    // multipart upload exists by the time the writes return.
    const data = randomBytes(16 * MB);
    for (let i = 0; i < data.length; i += MB) await w.write(data.subarray(i, i + MB));
    // The upload really is multipart and in progress (otherwise the check below proves nothing).
    assert.equal((await uploads(d, bucket)).length, 1);
    assert.equal(await d.stat('blobs/aborted'), undefined, 'nothing visible before commit');
    await w.abort();
    assert.equal(await d.stat('blobs/aborted'), undefined);
    assert.deepEqual(await uploads(d, bucket), []);
    await assert.rejects(w.write(Buffer.from('x')), /after commit or abort/);
  });

  it('streams a 50 MB write as multipart and reads it back exactly, ranges across parts too', async () => {
    const bucket = await ceph.createBucket();
    const d = await make({ bucket, partSize: 8 * MB });
    const data = randomBytes(50 * MB + 123);
    const t0 = Date.now();
    const w = await d.writer('blobs/sha256/ab/big');
    // 64 KiB chunks, as a network body arrives.
    for (let i = 0; i < data.length; i += 64 * 1024) await w.write(data.subarray(i, i + 64 * 1024));
    await w.commit();
    const writeMs = Date.now() - t0;
    assert.equal((await d.stat('blobs/sha256/ab/big'))?.size, data.length);
    const t1 = Date.now();
    assert.equal(sha(await readAll(d, 'blobs/sha256/ab/big')), sha(data));
    const readMs = Date.now() - t1;
    const edge = 8 * MB;
    assert.ok((await readAll(d, 'blobs/sha256/ab/big', { start: edge - 10, end: edge + 9 })).equals(data.subarray(edge - 10, edge + 10)));
    assert.deepEqual(await uploads(d, bucket), []);
    console.log(`# 50 MB via S3 driver: write ${(50 * 1000 / writeMs).toFixed(0)} MB/s, read+sha256 ${(50 * 1000 / readMs).toFixed(0)} MB/s`);
  });

  it('a multipart overwrite keeps the old object visible until commit', async () => {
    const d = await make({ partSize: 5 * MB });
    await d.put('ow/big', Buffer.from('old'));
    const data = randomBytes(11 * MB);
    const w = await d.writer('ow/big');
    await w.write(data.subarray(0, 10 * MB));
    assert.equal((await d.get('ow/big'))?.toString(), 'old');
    await w.write(data.subarray(10 * MB));
    await w.commit();
    assert.equal(sha((await d.get('ow/big'))!), sha(data));
  });

  it('lists across pages, with keys relative to the prefix, and prefixes isolate', async () => {
    const bucket = await ceph.createBucket();
    const a = await make({ bucket, prefix: 'a', listPageSize: 7 });
    const b = await make({ bucket, prefix: 'b', listPageSize: 7 });
    const want: string[] = [];
    await Promise.all(Array.from({ length: 23 }, (_, i) => {
      const key = `blobs/sha256/${String(i % 3).padStart(2, '0')}/k${i}`;
      want.push(key);
      return a.put(key, Buffer.alloc(i));
    }));
    const got: string[] = [];
    for await (const e of a.list('blobs')) { got.push(e.key); assert.equal(e.size, Number(e.key.split('/k')[1])); }
    assert.deepEqual(got.sort(), want.sort());
    const fromB: string[] = [];
    for await (const e of b.list('blobs')) fromB.push(e.key);
    assert.deepEqual(fromB, []);
    assert.equal(await b.stat(want[0]!), undefined);
  });

  it('init aborts incomplete uploads left by a crashed writer once they are old', async () => {
    const bucket = await ceph.createBucket();
    const d = await make({ bucket, prefix: 'p' });
    await d.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'p/blobs/crashed' }));
    await d.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'other/not-ours' }));
    assert.equal(await d.abortStaleUploads(24 * 3_600_000), 0, 'a young upload may be a live peer\'s');
    assert.equal(await d.abortStaleUploads(0, Date.now() + 1000), 1);
    assert.deepEqual((await uploads(d, bucket)).map((u) => u.Key), ['other/not-ours']);
  });
});
