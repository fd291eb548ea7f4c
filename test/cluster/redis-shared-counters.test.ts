// The fleet's rate limiters and alert windows synced through a real Redis pass the same
// conformance suites as this process's own. Redis keeps the clock (TIME): the suites wait real time.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { rateLimiterSuite } from '../../src/limits/rate-limiter.suite.js';
import { windowCounterSuite } from '../../src/obs/window.suite.js';
import { CounterSync } from '../../src/cluster/counter-sync.js';
import { RedisCounterStore } from '../../src/cluster/redis-counters.js';
import { silentLogger } from '../../src/obs/logger.js';
import { startRedis } from '../helpers/redis.js';

async function fleetCounters() {
  const server = await startRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500 });
  redis.on('error', () => {});
  await new Promise((ok) => redis.once('ready', ok));
  const sync = new CounterSync(new RedisCounterStore(redis, `regway:{suite-${randomUUID()}}:count:`), 100, silentLogger());
  sync.start();
  return { sync, cleanup: async () => { await sync.close(); redis.disconnect(); await server.stop(); } };
}

rateLimiterSuite('shared buckets (fleet, Redis)', async () => {
  const { sync, cleanup } = await fleetCounters();
  return { limiter: (rate, burst) => sync.limiter(`scope-${randomUUID()}`, rate, burst), time: 'real', settle: () => sync.flush(), cleanup };
});

windowCounterSuite('shared window (fleet, Redis)', async () => {
  const { sync, cleanup } = await fleetCounters();
  return { counter: (windowMs, slots) => sync.window(`w-${randomUUID()}`, windowMs, slots), time: 'real', settle: () => sync.flush(), cleanup };
});
