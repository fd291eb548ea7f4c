// storage.driver selection and the storage.s3 schema: defaults, operator-worded errors, and the
// filesystem default staying exactly what it was.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides } from '../config/load.js';
import type { ConfigInput } from '../config/schema.js';
import { silentLogger } from '../obs/logger.js';
import { openStorage } from './open-driver.js';
import { S3Driver } from './s3-driver.js';

const cfg = (storage: ConfigInput['storage']) => applyOverrides({ storage }, {});

describe('storage configuration', () => {
  it('defaults to the filesystem driver', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regway-open-'));
    try {
      const c = cfg({ path: dir });
      assert.equal(c.storage.driver, 'filesystem');
      const s = await openStorage(c.storage, silentLogger());
      assert.equal(s.driver.name, 'filesystem');
      assert.equal(s.location, dir);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('memory: selectable, nothing on disk, nothing shared between two opens', async () => {
    const c = cfg({ driver: 'memory', path: join(tmpdir(), 'regway-memory-never-created') });
    const a = await openStorage(c.storage, silentLogger());
    const b = await openStorage(c.storage, silentLogger());
    assert.equal(a.driver.name, 'memory');
    assert.equal(a.location, 'memory');
    await a.driver.put('k/v', Buffer.from('x'));
    assert.equal(await b.driver.get('k/v'), undefined, 'a restart (another open) starts empty');
    assert.equal(existsSync(c.storage.path), false, 'the memory driver creates no folder');
  });

  it('s3 with only a bucket gets its defaults', () => {
    const c = cfg({ driver: 's3', s3: { bucket: 'regway-cache' } });
    assert.deepEqual(c.storage.s3, { bucket: 'regway-cache', region: 'us-east-1', prefix: '', partSize: 8 * 1024 * 1024, createBucket: false });
  });

  it('rejects what would fail later, naming the field', () => {
    assert.throws(() => cfg({ driver: 's3' }), /storage\.s3: storage\.driver is s3 but storage\.s3 is missing/);
    assert.throws(() => cfg({ driver: 's3', s3: { bucket: 'ab' } }), /storage\.s3\.bucket: an S3 bucket name/);
    assert.throws(() => cfg({ driver: 's3', s3: { bucket: 'regway', accessKeyId: 'AK' } }), /both accessKeyId and secretAccessKey, or neither/);
    assert.throws(() => cfg({ driver: 's3', s3: { bucket: 'regway', partSize: '1MiB' } }), /storage\.s3\.partSize: must be at least 5MiB/);
    assert.throws(() => cfg({ driver: 's3', s3: { bucket: 'regway', endpoint: 'ftp://x' } }), /storage\.s3\.endpoint/);
    assert.throws(() => cfg({ driver: 'gcs' as 's3' }), /storage\.driver/);
  });

  it('resolves secret references when the driver opens, naming a missing one', async () => {
    const c = cfg({ driver: 's3', s3: { bucket: 'regway', endpoint: 'http://127.0.0.1:1', accessKeyId: 'AK', secretAccessKey: { env: 'REGWAY_TEST_MISSING_SECRET_VAR' } } });
    delete process.env.REGWAY_TEST_MISSING_SECRET_VAR;
    await assert.rejects(openStorage(c.storage, silentLogger()), /environment variable REGWAY_TEST_MISSING_SECRET_VAR is not set/);
  });

  it('path style is on by default with a custom endpoint, off for AWS', async () => {
    const custom = new S3Driver({ bucket: 'b-b-b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });
    const aws = new S3Driver({ bucket: 'b-b-b', region: 'eu-west-1' });
    try {
      assert.equal(custom.s3.config.forcePathStyle, true);
      assert.equal(aws.s3.config.forcePathStyle, false);
      assert.equal(await custom.s3.config.requestChecksumCalculation(), 'WHEN_REQUIRED');
      assert.equal(await custom.s3.config.responseChecksumValidation(), 'WHEN_REQUIRED');
    } finally { custom.close(); aws.close(); }
  });
});
