import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requiredAccess, scopeFor } from './scope.js';

const D = 'sha256:' + 'a'.repeat(64);

test('reads need pull, writes push, deletes delete', () => {
  assert.deepEqual(requiredAccess('GET', ''), { kind: 'ping' });
  assert.deepEqual(requiredAccess('GET', '_catalog'), { kind: 'catalog' });
  assert.deepEqual(requiredAccess('HEAD', `a/b/manifests/v1`), { kind: 'repo', name: 'a/b', action: 'pull' });
  assert.deepEqual(requiredAccess('GET', `a/blobs/${D}`), { kind: 'repo', name: 'a', action: 'pull' });
  assert.deepEqual(requiredAccess('GET', `a/tags/list`), { kind: 'repo', name: 'a', action: 'pull' });
  assert.deepEqual(requiredAccess('GET', `a/referrers/${D}`), { kind: 'repo', name: 'a', action: 'pull' });
  assert.deepEqual(requiredAccess('POST', 'a/blobs/uploads/'), { kind: 'repo', name: 'a', action: 'push' });
  assert.deepEqual(requiredAccess('GET', 'a/blobs/uploads/x'), { kind: 'repo', name: 'a', action: 'push' }, 'upload status is part of a push');
  assert.deepEqual(requiredAccess('DELETE', 'a/blobs/uploads/x'), { kind: 'repo', name: 'a', action: 'push' }, 'cancelling an upload is not a delete');
  assert.deepEqual(requiredAccess('PUT', 'a/manifests/v1'), { kind: 'repo', name: 'a', action: 'push' });
  assert.deepEqual(requiredAccess('DELETE', 'a/manifests/v1'), { kind: 'repo', name: 'a', action: 'delete' });
  assert.deepEqual(requiredAccess('DELETE', `a/blobs/${D}`), { kind: 'repo', name: 'a', action: 'delete' });
  assert.deepEqual(requiredAccess('GET', 'nothing-here'), { kind: 'none' });
});

test('a name containing a route marker is taken up to the last marker', () => {
  assert.deepEqual(requiredAccess('GET', 'x/manifests/y/manifests/v1'), { kind: 'repo', name: 'x/manifests/y', action: 'pull' });
});

test('challenge scopes', () => {
  assert.equal(scopeFor({ kind: 'repo', name: 'a/b', action: 'push' }), 'repository:a/b:pull,push');
  assert.equal(scopeFor({ kind: 'repo', name: 'a', action: 'delete' }), 'repository:a:delete');
  assert.equal(scopeFor({ kind: 'catalog' }), 'registry:catalog:*');
  assert.equal(scopeFor({ kind: 'ping' }), undefined);
});
