import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from './schema.js';
import { applyOverrides } from './load.js';

const node = { peerToken: 'a-peer-token-of-16+', scheduler: 'http://gw:5000', advertiseUrl: 'http://10.0.0.7:5000' };

test('p2p: node mode needs an advertised URL; the scheduler side needs only the token; defaults', () => {
  const ok = configSchema.parse({ p2p: node });
  assert.equal(ok.p2p?.maxChildren, 2);
  assert.equal(ok.p2p?.stallTimeout, 5000);
  assert.equal(ok.p2p?.quarantine, 300_000);
  assert.ok(configSchema.safeParse({ p2p: { peerToken: 'a-peer-token-of-16+' } }).success, 'the scheduler (central gateway)');
  const missing = configSchema.safeParse({ p2p: { ...node, advertiseUrl: undefined } });
  assert.ok(!missing.success);
  assert.match(JSON.stringify(missing.error.issues), /advertiseUrl/);
  assert.ok(!configSchema.safeParse({ p2p: { ...node, maxChildren: 0 } }).success);
  assert.ok(!configSchema.safeParse({ p2p: { ...node, scheduler: 'ftp://gw' } }).success);
});

test('p2p: node mode and a fleet on shared storage exclude each other', () => {
  const r = configSchema.safeParse({ p2p: node, cluster: { redis: 'redis://r:6379', advertiseUrl: 'http://a:5000', peerToken: 'x'.repeat(16) } });
  assert.ok(!r.success);
  assert.match(JSON.stringify(r.error.issues), /exclude each other/);
});

test('--p2p-advertise replaces p2p.advertiseUrl, and needs a p2p section', () => {
  const c = applyOverrides({ p2p: node }, { p2pAdvertise: 'http://10.0.3.9:5000' });
  assert.equal(c.p2p?.advertiseUrl, 'http://10.0.3.9:5000');
  assert.throws(() => applyOverrides({}, { p2pAdvertise: 'http://10.0.3.9:5000' }), /needs a p2p section/);
});

test('p2p settings are built at start: a reload reports them as needing a restart', async () => {
  const { classifyChanges } = await import('./changes.js');
  const a = configSchema.parse({ p2p: node });
  const b = configSchema.parse({ p2p: { ...node, maxChildren: 4 } });
  assert.deepEqual(classifyChanges(a, b).needsRestart, ['p2p.maxChildren']);
});
