// The fleet's shared index against a real redis-server: RedisBlobIndex passes the BlobIndex
// conformance suite the SQLite index passes; then what only the fleet has: one leader evicts, a
// use on another instance during the grace period saves a blob, the catalog pages from Redis, and
// after FLUSHALL the leader rebuilds from the store while the catalog falls back.
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { blobIndexSuite, D } from '../../src/cache/blob-index.suite.js';
import { microClock } from '../../src/cache/blob-index.js';
import { RedisBlobIndex, type RedisBlobIndexOptions } from '../../src/cluster/redis-blob-index.js';
import { SharedIndex, indexKeys } from '../../src/cluster/shared-index.js';
import { RedisCatalog, withRedisCatalog } from '../../src/cluster/redis-catalog.js';
import { MemoryDriver } from '../../src/store/memory-driver.js';
import { DriverMetadataStore } from '../../src/store/metadata.js';
import { silentLogger } from '../../src/obs/logger.js';
import { parseDigest, type Digest } from '../../src/oci/digest.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let server: Promise<RedisServer> | undefined;
const clients: Redis[] = [];
after(async () => { for (const c of clients) c.disconnect(); await (await server)?.stop(); });

async function connect(): Promise<Redis> {
  server ??= startRedis();
  const r = new Redis((await server).url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 2000 });
  r.on('error', () => {});
  clients.push(r);
  await new Promise((ok) => r.once('ready', ok));
  return r;
}

// Checks and lease renewal are driven by the tests (the timers are far apart).
const TIMING = { checkEveryMs: 60_000, leaseMs: 120_000 };

/** One instance of a fleet: its own connection, the fleet's keys. */
async function instance(prefix: string, name: string, maxSize: number, driver = new MemoryDriver(), opts: RedisBlobIndexOptions = {}) {
  const redis = await connect();
  const keys = indexKeys(prefix);
  const deleted: string[] = [];
  const store = { delete: async (d: Digest) => { deleted.push(d.encoded[0]!); return true; } };
  let catalog: RedisCatalog | undefined;
  const shared = new SharedIndex(redis, keys, name, driver, (r) => catalog!.member(r), silentLogger(), TIMING);
  catalog = new RedisCatalog(redis, keys.catalog, keys.complete, shared, 'docker.io');
  const index = new RedisBlobIndex(redis, keys, shared, store, maxSize, silentLogger(), { flushEveryMs: 60_000, graceMs: 10, ...opts });
  await shared.start();
  await shared.settled();
  await index.start();
  return { redis, keys, shared, catalog, index, deleted, driver, close: async () => { await index.close(); await shared.close(); } };
}

const fleet = () => `regway:{idx-${randomUUID()}}:`;

blobIndexSuite('redis', async (max) => {
  const i = await instance(fleet(), 'i0', max);
  return { index: i.index, deleted: i.deleted, cleanup: i.close };
});

it('a new fleet (no marker) is built at start by the first instance: complete at once for an empty store', async () => {
  const i = await instance(fleet(), 'i0', 0);
  assert.equal(i.shared.complete(), true);
  assert.equal(i.shared.leading(), true);
  await i.close();
});

it('only the lease holder evicts: the other instance leaves the cache over its cap', async () => {
  const prefix = fleet();
  const a = await instance(prefix, 'a', 50);
  const b = await instance(prefix, 'b', 50);
  assert.equal(a.shared.leading(), true);
  assert.equal(b.shared.leading(), false);
  b.index.add(D('a'), 40); b.index.add(D('b'), 40);
  await b.index.flush();
  assert.equal(await b.index.evictIfNeeded(), 0, 'b does not lead');
  assert.deepEqual(b.deleted, []);
  assert.equal(await a.index.evictIfNeeded(), 1, 'a leads and sees b\'s blobs');
  assert.deepEqual(a.deleted, ['a']);
  await b.index.flush();
  assert.equal(b.index.size, 40, 'every instance reads the fleet\'s totals');
  // The leader stops: its lease is released and the next check elsewhere takes it.
  await a.close();
  await b.shared.check();
  assert.equal(b.shared.leading(), true);
  await b.close();
});

it('a blob another instance used while the leader waited out the grace period is not evicted', async () => {
  const prefix = fleet();
  let other: Awaited<ReturnType<typeof instance>> | undefined;
  const leader = await instance(prefix, 'leader', 70, undefined, {
    // What the other instance does between the leader's pick and its eviction: serves b, flushes its batch.
    grace: async () => { other!.index.touch(D('b')); await other!.index.flush(); },
  });
  // Its uses come a second after the leader's writes (not within the same millisecond, where GT keeps the larger).
  other = await instance(prefix, 'other', 70, undefined, { clock: microClock(() => Date.now() + 1000) });
  for (const c of 'abc') leader.index.add(D(c), 40);
  assert.equal(await leader.index.evictIfNeeded(), 2, '120 bytes down to at most 63: two go');
  assert.deepEqual(leader.deleted, ['a', 'c'], 'b was used after the pick: c went in its place');
  await other.close(); await leader.close();
});

it('the catalog pages from Redis in display order, and follows the tags and manifest links written', async () => {
  const i = await instance(fleet(), 'i0', 0);
  const meta = withRedisCatalog(new DriverMetadataStore(i.driver), i.catalog);
  const tag = { digest: D('a'), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, checkedAt: 1 };
  const repos = [{ registry: 'docker.io', name: 'library/b' }, { registry: 'ghcr.io', name: 'a' }, { registry: '_hosted', name: 'a' }, { registry: 'docker.io', name: 'a' }, { registry: 'docker.io', name: 'c' }];
  for (const r of repos) await meta.putTag(r, 'v1', tag);
  await meta.putManifestLink(repos[4]!, parseDigest(D('a')), { mediaType: tag.mediaType, size: 1 });
  const names = (rows: { display: string }[] | undefined) => rows!.map((r) => r.display);
  assert.deepEqual(names(await i.catalog.page(undefined, 10, 'docker.io')), ['a', 'a', 'c', 'ghcr.io/a', 'library/b']);
  assert.deepEqual(names(await i.catalog.page('c', 1, 'docker.io')), ['ghcr.io/a']);
  // Two repositories show as "a": resuming after the exact entry, not the name, reaches the second.
  const first = (await i.catalog.page(undefined, 1, 'docker.io'))![0]!;
  assert.deepEqual(first, { display: 'a', registry: '_hosted', name: 'a' });
  assert.deepEqual(await i.catalog.page(first, 1, 'docker.io'), [{ display: 'a', registry: 'docker.io', name: 'a' }]);
  assert.equal(await i.catalog.page(undefined, 10, 'ghcr.io'), undefined, 'names written for another default registry: the caller walks the store');
  assert.equal((await meta.listRepositories()).length, 5);
  // A repository leaves with its last tag and manifest link.
  await meta.deleteTag(repos[4]!, 'v1');
  assert.equal(names(await i.catalog.page(undefined, 10, 'docker.io')).includes('c'), true, 'still has a manifest link');
  await meta.deleteManifestLink(repos[4]!, parseDigest(D('a')));
  assert.deepEqual(names(await i.catalog.page(undefined, 10, 'docker.io')), ['a', 'a', 'ghcr.io/a', 'library/b']);
  await i.close();
});

it('after FLUSHALL the catalog falls back and eviction waits; the leader rebuilds from the store while the others serve', async () => {
  const prefix = fleet();
  const driver = new MemoryDriver();
  const meta = new DriverMetadataStore(driver);
  const a = await instance(prefix, 'a', 50, driver);
  const b = await instance(prefix, 'b', 50, driver);
  const tag = { digest: D('a'), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, checkedAt: 1 };
  await withRedisCatalog(meta, a.catalog).putTag({ registry: 'docker.io', name: 'library/x' }, 'v1', tag);
  for (const c of 'ab') await driver.put(`blobs/sha256/${c}${c}/${c.repeat(64)}`, Buffer.alloc(40));
  a.index.add(D('a'), 40); a.index.add(D('b'), 40);

  await a.redis.flushall(); // the lease goes with the data: whoever checks first leads
  assert.equal(await a.shared.lead(), true);
  await b.shared.check(); // the follower notices: falls back, does not build
  assert.equal(b.shared.complete(), false);
  assert.equal(await b.catalog.page(undefined, 10, 'docker.io'), undefined);
  assert.equal(await b.index.evictIfNeeded(), 0);
  assert.equal(b.shared.progress.phase, 'ready', 'not the leader: no build');

  await a.shared.check(); // the leader notices: it builds
  await a.shared.settled();
  assert.equal(a.shared.complete(), true);
  await b.shared.check();
  assert.equal(b.shared.complete(), true);
  assert.deepEqual((await b.catalog.page(undefined, 10, 'docker.io'))!.map((r) => r.display), ['library/x']);
  await a.index.flush();
  assert.deepEqual([a.index.count, a.index.size], [2, 80], 'sizes and totals from the store');
  assert.equal(await a.index.evictIfNeeded(), 1, 'eviction works again');
  await a.close(); await b.close();
});

it('a FLUSHALL in the middle of a build leaves the marker unset: that build saw half the data', async () => {
  const prefix = fleet();
  const driver = new MemoryDriver();
  const a = await instance(prefix, 'a', 0, driver);
  for (let n = 0; n < 3000; n++) await driver.put(`blobs/sha256/00/${n.toString(16).padStart(64, '0')}`, Buffer.alloc(1));
  await a.redis.flushall();
  await a.shared.check();
  const building = a.shared.settled();
  await a.redis.flushall(); // while the first batches are written
  await building;
  assert.equal(a.shared.complete(), false);
  assert.equal(await a.redis.exists(a.keys.complete), 0);
  await a.shared.check(); // the next check starts again (the lease went with the data too)
  await a.shared.settled();
  assert.equal(a.shared.complete(), true);
  await a.index.flush();
  assert.equal(a.index.count, 3000);
  await a.close();
});
