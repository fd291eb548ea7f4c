// The Redis counter store against a real redis-server: the same conformance suite as the memory store.
import { Redis } from 'ioredis';
import { counterStoreSuite } from '../../src/cluster/counters.suite.js';
import { RedisCounterStore } from '../../src/cluster/redis-counters.js';
import { startRedis } from '../helpers/redis.js';

counterStoreSuite('redis', async () => {
  const server = await startRedis();
  const redis = new Redis(server.url);
  await new Promise((r) => redis.once('ready', r));
  return { store: new RedisCounterStore(redis), cleanup: async () => { redis.disconnect(); await server.stop(); } };
});
