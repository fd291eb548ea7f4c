// The fleet's shared upstream tokens (real Redis). Before the fix the Redis key was realm, service
// and scope only: two upstreams with different credentials for one realm and scope used each
// other's tokens (a low-privilege upstream served with a high-privilege token), a token an
// upstream refused came back from Redis until it expired, and two fleets on one Redis (prod and
// staging) shared fetch leases, tag freshness and tokens. All three failed there.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { RedisCoordinator } from '../../src/cluster/redis-coordinator.js';
import { redisTokens } from '../../src/cluster/redis-tokens.js';
import { TokenCache } from '../../src/auth/tokens.js';
import { UpstreamClient } from '../../src/client/upstream-client.js';
import { upstreamSchema } from '../../src/config/schema.js';
import { fleetKeyPrefix } from '../../src/server/gateway.js';
import { applyOverrides } from '../../src/config/load.js';
import { silentLogger } from '../../src/obs/logger.js';
import { waitFor } from '../helpers/wait.js';

let redis: RedisServer;
let coord: RedisCoordinator;
let registry: ScriptedUpstream;
const revoked = new Set<string>();
let issued = 0;

before(async () => {
  redis = await startRedis();
  coord = new RedisCoordinator(redis.url, { instance: 'a', url: 'http://127.0.0.1:1' }, 2000, silentLogger());
  await waitFor(() => coord.healthy(), 'the coordinator connected to Redis', 10_000);
  // One registry, one realm on its own host: tokens name the user they were issued to; "secret" is
  // readable with admin's token only.
  registry = await startScriptedUpstream();
  registry.on((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/token') {
      const who = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':')[0] || 'anonymous';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${who}-${++issued}`, expires_in: 300 }));
      return true;
    }
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!token || revoked.has(token)) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${registry.url}/token",service="reg"` }).end();
      return true;
    }
    const ok = !u.pathname.includes('/secret/') || token.startsWith('tok-admin-');
    res.writeHead(ok ? 200 : 403, { 'x-token': token }).end();
    return true;
  });
});
after(async () => { await coord?.close(); await registry?.stop(); await redis?.stop(); });

const client = (user: string, password: string) => new UpstreamClient(upstreamSchema.parse({ url: registry.url, auth: { username: user, password } }), {
  credentials: async () => ({ username: user, password }),
  tokens: new TokenCache(undefined, redisTokens(coord.redis, 'regway:{test}:')),
});

it('upstreams with different credentials never get each other\'s token from the fleet store', async () => {
  const admin = client('admin', 'admin-pass');
  const reader = client('reader', 'reader-pass');
  const a = await admin.send({ method: 'GET', name: 'team/secret', path: 'manifests/v1' });
  await a.body.dump?.();
  assert.equal(a.status, 200);
  const r = await reader.send({ method: 'GET', name: 'team/secret', path: 'manifests/v1' });
  await r.body.dump?.();
  assert.equal(r.status, 403, `the reader must be served with its own token, got ${r.headers['x-token']}`);
  assert.match(String(r.headers['x-token']), /^tok-reader-/);
  await admin.close(); await reader.close();
});

it('a token the upstream refuses is dropped for the whole fleet, not handed back from Redis', async () => {
  const one = client('robot', 'p');
  const other = client('robot', 'p');
  const first = await one.send({ method: 'GET', name: 'team/app', path: 'manifests/v1' });
  await first.body.dump?.();
  const t1 = String(first.headers['x-token']);
  revoked.add(t1);
  const second = await other.send({ method: 'GET', name: 'team/app', path: 'manifests/v1' });
  await second.body.dump?.();
  assert.equal(second.status, 200);
  assert.notEqual(second.headers['x-token'], t1, 'a fresh token, not the refused one');
  const third = await one.send({ method: 'GET', name: 'team/app', path: 'manifests/v1' });
  await third.body.dump?.();
  assert.equal(third.headers['x-token'], second.headers['x-token'], 'the other instance picks up the fresh token from the fleet');
  await one.close(); await other.close();
});

it('two fleets on one Redis are namespaced by their storage (or cluster.namespace)', () => {
  const cluster = { redis: redis.url, advertiseUrl: 'http://127.0.0.1:1', peerToken: 'x'.repeat(32) };
  const other = (t: string) => applyOverrides({ storage: { path: '/var/lib/regway' }, cluster: { ...cluster, peerToken: t } }, {});
  assert.notEqual(fleetKeyPrefix(other('a'.repeat(32))), fleetKeyPrefix(other('b'.repeat(32))), 'own disks: the peer token tells fleets apart');
  assert.equal(fleetKeyPrefix(other('a'.repeat(32))), fleetKeyPrefix(applyOverrides({ storage: { path: '/elsewhere' }, cluster: { ...cluster, peerToken: 'a'.repeat(32) } }, {})));
  const prod = applyOverrides({ storage: { driver: 's3', s3: { bucket: 'cache', prefix: 'prod' } }, cluster }, {});
  const staging = applyOverrides({ storage: { driver: 's3', s3: { bucket: 'cache', prefix: 'staging' } }, cluster }, {});
  assert.notEqual(fleetKeyPrefix(prod), fleetKeyPrefix(staging));
  const named = applyOverrides({ storage: { driver: 's3', s3: { bucket: 'cache', prefix: 'prod' } }, cluster: { ...cluster, namespace: 'eu-prod' } }, {});
  assert.equal(fleetKeyPrefix(named), 'regway:{eu-prod}:');
});
