import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRepository } from './addressing.js';

test('ns wins, as containerd sends it to mirrors', () => {
  assert.deepEqual(resolveRepository('org/app', 'ghcr.io', 'docker.io'), { registry: 'ghcr.io', name: 'org/app', ns: 'ghcr.io' });
  assert.deepEqual(resolveRepository('library/alpine', 'docker.io', 'docker.io'), { registry: 'docker.io', name: 'library/alpine', ns: 'docker.io' });
  assert.deepEqual(resolveRepository('alpine', 'index.docker.io', 'docker.io'), { registry: 'docker.io', name: 'library/alpine', ns: 'index.docker.io' });
  assert.deepEqual(resolveRepository('team/x', '127.0.0.1:5001', 'docker.io'), { registry: '127.0.0.1:5001', name: 'team/x', ns: '127.0.0.1:5001' });
});

test('a host as first path segment selects that registry', () => {
  assert.deepEqual(resolveRepository('ghcr.io/org/app', undefined, 'docker.io'), { registry: 'ghcr.io', name: 'org/app' });
  assert.deepEqual(resolveRepository('registry.k8s.io/pause', undefined, 'docker.io'), { registry: 'registry.k8s.io', name: 'pause' });
  assert.deepEqual(resolveRepository('localhost/x', undefined, 'docker.io'), { registry: 'localhost', name: 'x' });
});

test('otherwise the default registry, with library/ for Docker Hub', () => {
  assert.deepEqual(resolveRepository('alpine', undefined, 'docker.io'), { registry: 'docker.io', name: 'library/alpine' });
  assert.deepEqual(resolveRepository('bitnami/redis', undefined, 'docker.io'), { registry: 'docker.io', name: 'bitnami/redis' });
  assert.deepEqual(resolveRepository('app', undefined, 'quay.io'), { registry: 'quay.io', name: 'app' });
});

test('an ns that is not a host is refused', () => {
  for (const bad of ['../x', 'a b', 'http://x', 'x/y']) {
    assert.throws(() => resolveRepository('org/app', bad, 'docker.io'), (e: { code: string }) => e.code === 'NAME_INVALID', bad);
  }
});

test('invalid names are NAME_INVALID before any path is built', () => {
  for (const bad of ['../etc', 'Upper/case', 'a//b', 'a/../b', 'x'.repeat(300), '-lead', 'trail-', 'a/./b', '']) {
    assert.throws(() => resolveRepository(bad, undefined, 'docker.io'), (e: { code: string }) => e.code === 'NAME_INVALID', bad);
  }
});

test('the router: hosted patterns first (never with ns), then ns, host path, default registry', async () => {
  const { RepoRouter } = await import('./addressing.js');
  const r = new RepoRouter('docker.io', ['local/**', 'registry.corp.example/**']);
  assert.deepEqual(r.route('local/app'), { registry: '_hosted', name: 'local/app', hosted: true });
  assert.deepEqual(r.route('registry.corp.example/team/app'), { registry: '_hosted', name: 'registry.corp.example/team/app', hosted: true });
  assert.deepEqual(r.route('local/app', 'docker.io'), { registry: 'docker.io', name: 'local/app', ns: 'docker.io', hosted: false });
  assert.deepEqual(r.route('alpine'), { registry: 'docker.io', name: 'library/alpine', hosted: false });
  assert.deepEqual(r.scopeKey('docker.io/alpine'), { registry: 'docker.io', name: 'library/alpine' });
  assert.deepEqual(r.scopeKey('library/alpine'), { registry: 'docker.io', name: 'library/alpine' });
  assert.equal(r.scopeKey('users/bob/../alice'), undefined);
  assert.equal(r.scopeKey('Upper'), undefined);
});
