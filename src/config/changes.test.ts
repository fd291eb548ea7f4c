import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides } from './load.js';
import { changedPaths, classifyChanges, withRunningValues } from './changes.js';

const base = applyOverrides({ registries: { 'docker.io': { upstreams: [{ url: 'https://a.example' }] } }, auth: { htpasswd: '/x', access: [] } }, {});

test('changed settings are reported as dotted paths; registries and user-named maps as a whole', () => {
  const next = applyOverrides({
    registries: { 'docker.io': { upstreams: [{ url: 'https://b.example' }] }, 'ghcr.io': { upstreams: [{ url: 'https://ghcr.io' }] } },
    auth: { htpasswd: '/x', access: [{ repositories: ['**'], users: ['u'], actions: ['pull'] }], groups: { g: ['u'] } },
    limits: { ipRate: 5, idleTimeout: '2m' },
  }, {});
  assert.deepEqual(changedPaths(base, next).sort(), ['auth.access', 'auth.groups', 'limits.idleTimeout', 'limits.ipRate', 'registries.docker.io', 'registries.ghcr.io']);
  const c = classifyChanges(base, next);
  assert.deepEqual(c.applied.sort(), ['auth.access', 'auth.groups', 'limits.ipRate', 'registries.docker.io', 'registries.ghcr.io']);
  assert.deepEqual(c.needsRestart, ['limits.idleTimeout']);
  assert.deepEqual(classifyChanges(base, next, (p) => !p.startsWith('limits.')).needsRestart.sort(), ['limits.idleTimeout', 'limits.ipRate']);
});

test('turning a section on or off is one path; the caller decides whether it can be applied', () => {
  const off = applyOverrides({ registries: {} }, {});
  const c = classifyChanges(off, base, (p) => p !== 'auth');
  assert.ok(c.needsRestart.includes('auth'));
  assert.ok(!c.applied.includes('auth'));
});

test('settings that wait for a restart keep their running value in the effective config', () => {
  const next = applyOverrides({ registries: {}, listen: '0.0.0.0:6000', limits: { idleTimeout: '2m', ipRate: 3 } }, {});
  const eff = withRunningValues(next, base, ['listen', 'limits.idleTimeout']);
  assert.equal(eff.listen, base.listen);
  assert.equal(eff.limits.idleTimeout, base.limits.idleTimeout);
  assert.equal(eff.limits.ipRate, 3, 'applied settings are taken');
  const gone = withRunningValues(applyOverrides({ registries: {} }, {}), base, ['auth']);
  assert.deepEqual(gone.auth, base.auth, 'a section switched off waits for the restart too');
});
