// The failed-login backoff shared through a real Redis: the conformance suite, then two instances
// (two local backoffs, one Redis) where failures on one make the other wait, and Redis gone.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { loginAttemptsSuite } from '../../src/limits/login-attempts.suite.js';
import { LoginBackoff } from '../../src/limits/token-bucket.js';
import { RedisLoginAttempts } from '../../src/cluster/redis-backoff.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

async function connect(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500 });
  r.on('error', () => {});
  await new Promise((ok) => r.once('ready', ok));
  return r;
}

loginAttemptsSuite('fleet (Redis)', async () => {
  const server = await startRedis();
  const redis = await connect(server.url);
  return { attempts: new RedisLoginAttempts(redis, new LoginBackoff(2, 300, 1000)), cleanup: async () => { redis.disconnect(); await server.stop(); } };
});

let server: RedisServer;
let ra: Redis;
let rb: Redis;
before(async () => { server = await startRedis(); [ra, rb] = await Promise.all([connect(server.url), connect(server.url)]); });
after(async () => { ra?.disconnect(); rb?.disconnect(); await server?.stop(); });

it('failures spread over two instances add up: the second instance makes the guesser wait', async () => {
  const a = new RedisLoginAttempts(ra, new LoginBackoff(4, 2000, 10_000));
  const b = new RedisLoginAttempts(rb, new LoginBackoff(4, 2000, 10_000));
  await a.failed('10.1.1.1', 'alice'); await b.failed('10.1.1.1', 'alice');
  await a.failed('10.1.1.1', 'alice');
  assert.equal(await b.wait('10.1.1.1', 'alice'), 0, 'three failures: below the threshold of four');
  await b.failed('10.1.1.1', 'alice');
  assert.equal(await a.wait('10.1.1.1', 'alice'), 2, 'the fourth failure (two on each) blocks on both');
  assert.equal(await b.wait('10.1.1.1', 'alice'), 2);
  await a.succeeded('10.1.1.1', 'alice');
  assert.equal(await b.wait('10.1.1.1', 'alice'), 0, 'a success anywhere clears the fleet record');
});

it('without Redis each instance backs off on its own count and logins keep working', async () => {
  const a = new RedisLoginAttempts(ra, new LoginBackoff(2, 2000, 10_000));
  server.kill();
  await waitFor(() => ra.status !== 'ready', 'the Redis client to notice the server is gone', 5_000, { seen: () => ra.status });
  assert.equal(await a.wait('10.2.2.2', 'bob'), 0);
  await a.failed('10.2.2.2', 'bob');
  await a.failed('10.2.2.2', 'bob');
  assert.equal(await a.wait('10.2.2.2', 'bob'), 2, 'the local backoff still applies');
  await a.succeeded('10.2.2.2', 'bob');
  assert.equal(await a.wait('10.2.2.2', 'bob'), 0);
});
