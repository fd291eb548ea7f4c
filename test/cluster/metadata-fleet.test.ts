// The fleet's metadata (tag freshness shared through a real Redis, over the shared store's
// DriverMetadataStore) passes the same conformance suite as the store alone; then what only the
// fleet promises: a tag one instance revalidated is what every instance reads.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { metadataStoreSuite } from '../../src/store/metadata.suite.js';
import { DriverMetadataStore } from '../../src/store/metadata.js';
import { MemoryDriver } from '../../src/store/memory-driver.js';
import { withRedisTags } from '../../src/cluster/redis-tags.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

async function connect(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500 });
  r.on('error', () => {});
  await new Promise((ok) => r.once('ready', ok));
  return r;
}

metadataStoreSuite('fleet (Redis tags over driver metadata)', async () => {
  const server = await startRedis();
  const redis = await connect(server.url);
  const store = withRedisTags(new DriverMetadataStore(new MemoryDriver()), redis, 60_000, `regway:{suite-${randomUUID()}}:`);
  return { store, cleanup: async () => { redis.disconnect(); await server.stop(); } };
});

let server: RedisServer;
let ra: Redis;
let rb: Redis;
before(async () => { server = await startRedis(); [ra, rb] = await Promise.all([connect(server.url), connect(server.url)]); });
after(async () => { ra?.disconnect(); rb?.disconnect(); await server?.stop(); });

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

it('two instances on one store: a tag one revalidated is what the other reads, though it had read the old one', async () => {
  const shared = new MemoryDriver();
  const prefix = `regway:{two-${randomUUID()}}:`;
  const a = withRedisTags(new DriverMetadataStore(shared), ra, 60_000, prefix);
  const b = withRedisTags(new DriverMetadataStore(shared), rb, 60_000, prefix);
  const r = { registry: 'registry.fleet.test', name: 'team/app' };
  const [d1, d2] = [parseDigest(digestOf(Buffer.from('one'))), parseDigest(digestOf(Buffer.from('two')))];
  await a.putManifestLink(r, d1, { mediaType: MANIFEST, size: 1 });
  await a.putTag(r, 'latest', { digest: d1.value, mediaType: MANIFEST, size: 1, checkedAt: 1 });
  assert.equal((await b.getTag(r, 'latest'))?.digest, d1.value, 'b reads (and caches) the first entry');
  await a.putManifestLink(r, d2, { mediaType: MANIFEST, size: 2 });
  await a.putTag(r, 'latest', { digest: d2.value, mediaType: MANIFEST, size: 2, checkedAt: 2 });
  assert.deepEqual(await b.getTag(r, 'latest'), { digest: d2.value, mediaType: MANIFEST, size: 2, checkedAt: 2 });
});

it('a shared entry naming a manifest this repository does not link is not trusted: the store answers', async () => {
  const prefix = `regway:{forged-${randomUUID()}}:`;
  const store = withRedisTags(new DriverMetadataStore(new MemoryDriver()), ra, 60_000, prefix);
  const r = { registry: 'registry.fleet.test', name: 'team/app' };
  const mine = parseDigest(digestOf(Buffer.from('mine')));
  await store.putManifestLink(r, mine, { mediaType: MANIFEST, size: 1 });
  await store.putTag(r, 'latest', { digest: mine.value, mediaType: MANIFEST, size: 1, checkedAt: 1 });
  const elsewhere = digestOf(Buffer.from('another repository'));
  await rb.set(`${prefix}tag:${r.registry}/${r.name}:latest`, JSON.stringify({ digest: elsewhere, mediaType: MANIFEST, size: 9, checkedAt: 9 }));
  assert.equal((await store.getTag(r, 'latest'))?.digest, mine.value);
});
