// `regway index status|rebuild` and `regway gc` as an operator runs them: on a cache written
// without an index, after files were removed behind the gateway's back, and refused (with what to
// do instead) for a fleet whose index lives in Redis.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';
import { FsDriver } from '../../src/store/fs-driver.js';
import { BlobStore } from '../../src/store/blob-store.js';
import { DriverMetadataStore } from '../../src/store/metadata.js';
import { blobKey } from '../../src/store/paths.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const regway = (...args: string[]) => run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT });
const status = async (dir: string) => {
  const r = await regway('index', 'status', '--storage', dir, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { phase: string; blobs: number; bytes: number; location: string; reason?: string };
};

describe('regway index and gc', () => {
  let dir: string;
  let data: string;
  const digests: string[] = [];
  before(async () => {
    dir = makeTempDir('index-cli');
    data = join(dir, 'data');
    const driver = new FsDriver(data);
    await driver.init();
    const blobs = new BlobStore(driver, 'cache');
    const meta = new DriverMetadataStore(driver);
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.alloc(1000, i);
      const d = parseDigest(digestOf(bytes));
      await blobs.putVerified(d, bytes);
      await meta.putTag({ registry: 'r.test', name: `team/app${i}` }, 'v1', { digest: d.value, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1000, checkedAt: 1 });
      digests.push(d.value);
    }
  });
  after(() => removeTempDir(dir));

  it('status builds the missing index of an existing cache and reports it complete', async () => {
    const s = await status(data);
    assert.equal(s.phase, 'ready');
    assert.equal(s.blobs, 40);
    assert.equal(s.bytes, 40_000);
    assert.equal(s.reason, 'no index yet');
    assert.equal(s.location, join(data, '_index', 'cache.db'));
    assert.equal((await status(data)).reason, undefined, 'a closed index is trusted at the next open');
  });

  it('rebuild picks up files removed behind its back; gc evicts down to the limit by the index', async () => {
    for (const d of digests.slice(0, 5)) rmSync(join(data, blobKey(parseDigest(d))));
    assert.equal((await status(data)).blobs, 40, 'the index does not know yet');
    const r = await regway('index', 'rebuild', '--storage', data, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).blobs, 35);
    const gc = await regway('gc', '--storage', data, '--max-size', '20000');
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /regway gc: 17 blobs removed, 35000 -> 18000 bytes/);
    assert.equal((await status(data)).blobs, 18);
  });

  it('a fleet on a shared bucket is refused with what to do instead, and nothing is opened', async () => {
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, stringify({
      storage: { driver: 's3', path: join(dir, 'fleet'), s3: { bucket: 'fleet-cache', endpoint: 'http://127.0.0.1:9', region: 'us-east-1' } },
      cluster: { redis: 'redis://127.0.0.1:9', peerToken: 'x'.repeat(32), advertiseUrl: 'http://127.0.0.1:5000' },
    }));
    for (const args of [['index', 'status'], ['index', 'rebuild'], ['gc', '--max-size', '1GiB']]) {
      const r = await regway(...args, '--config', file);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /its cache index lives in Redis/);
    }
    const rebuild = await regway('index', 'rebuild', '--config', file);
    assert.match(rebuild.stderr, /redis-cli DEL 'regway:\{s3:fleet-cache\/[^']*\}:idx:complete'/);
  });
});
