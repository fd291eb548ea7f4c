// Fleet-wide state in a real Redis: upstream tokens fetched once for the fleet, alerts sent once per
// cooldown across instances, and both degrade to per-instance behaviour when Redis is gone.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { RedisCoordinator } from '../../src/cluster/redis-coordinator.js';
import { redisTokens } from '../../src/cluster/redis-tokens.js';
import { TokenCache } from '../../src/auth/tokens.js';
import { silentLogger } from '../../src/obs/logger.js';
import { waitFor } from '../helpers/wait.js';

let redis: RedisServer;
let a: RedisCoordinator;
let b: RedisCoordinator;

before(async () => {
  redis = await startRedis();
  a = new RedisCoordinator(redis.url, { instance: 'a', url: 'http://127.0.0.1:1' }, 2000, silentLogger());
  b = new RedisCoordinator(redis.url, { instance: 'b', url: 'http://127.0.0.1:2' }, 2000, silentLogger());
  await waitFor(() => a.healthy() && b.healthy(), 'both coordinators connected to Redis', 10_000);
});
after(async () => { await a?.close(); await b?.close(); await redis?.stop(); });

it('an upstream token fetched by one instance serves the others until it expires', async () => {
  let fetches = 0;
  const fetch = async () => { fetches++; return { token: `t${fetches}`, expiresIn: 300 }; };
  const ca = new TokenCache(undefined, redisTokens(a.redis));
  const cb = new TokenCache(undefined, redisTokens(b.redis));
  assert.equal(await ca.getOrFetch('realm\0svc\0repository:x:pull', fetch), 't1');
  assert.equal(await cb.getOrFetch('realm\0svc\0repository:x:pull', fetch), 't1');
  assert.equal(fetches, 1, 'the second instance reused the first one\'s token');
  assert.equal(await cb.getOrFetch('realm\0svc\0repository:y:pull', fetch), 't2', 'another scope is another token');
});

it('an alert is claimed by one instance per cooldown', async () => {
  const [x, y] = await Promise.all([a.claimOnce('alert:pulls-per-client:10.0.0.1', 500), b.claimOnce('alert:pulls-per-client:10.0.0.1', 500)]);
  assert.deepEqual([x, y].sort(), [false, true]);
  await new Promise((r) => setTimeout(r, 600)); // the time is the subject: the cooldown (500 ms) must pass
  assert.equal(await b.claimOnce('alert:pulls-per-client:10.0.0.1', 500), true, 'after the cooldown it fires again');
});

it('without Redis, every instance fires and fetches on its own', async () => {
  redis.kill();
  await waitFor(() => !a.healthy(), 'the coordinator to see Redis gone', 5_000);
  assert.equal(await a.claimOnce('alert:x:y', 1000), true);
  assert.equal(await b.claimOnce('alert:x:y', 1000), true);
  let fetches = 0;
  const c = new TokenCache(undefined, redisTokens(a.redis));
  assert.equal(await c.getOrFetch('k', async () => { fetches++; return { token: 'solo', expiresIn: 60 }; }), 'solo');
  assert.equal(fetches, 1);
});
