import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseApiPath, requiredAction } from './api-path.js';

test('one table: every endpoint of the distribution API, greedy names', () => {
  assert.deepEqual(parseApiPath(''), { kind: 'ping' });
  assert.deepEqual(parseApiPath('_catalog'), { kind: 'catalog' });
  assert.deepEqual(parseApiPath('a/b/manifests/v1'), { kind: 'manifest', name: 'a/b', reference: 'v1' });
  assert.deepEqual(parseApiPath('a/b/blobs/sha256:x'), { kind: 'blob', name: 'a/b', reference: 'sha256:x' });
  assert.deepEqual(parseApiPath('a/b/tags/list'), { kind: 'tags', name: 'a/b' });
  assert.deepEqual(parseApiPath('a/b/referrers/sha256:x'), { kind: 'referrers', name: 'a/b', reference: 'sha256:x' });
  assert.deepEqual(parseApiPath('a/b/blobs/uploads/'), { kind: 'upload', name: 'a/b' });
  assert.deepEqual(parseApiPath('a/b/blobs/uploads'), { kind: 'upload', name: 'a/b' });
  assert.deepEqual(parseApiPath('a/b/blobs/uploads/1234'), { kind: 'upload', name: 'a/b', uploadId: '1234' });
  // A repository may be called "manifests": the last marker ends the name.
  assert.deepEqual(parseApiPath('x/manifests/y/manifests/v1'), { kind: 'manifest', name: 'x/manifests/y', reference: 'v1' });
  // Malformed references are still parsed, to be refused by the reference's own validation.
  assert.deepEqual(parseApiPath('a/manifests/v1/'), { kind: 'manifest', name: 'a', reference: 'v1/' });
  assert.equal(parseApiPath('a/b'), undefined);
  assert.equal(parseApiPath('a/b/tags/list/x'), undefined);
});

test('the action each request needs', () => {
  assert.equal(requiredAction('GET', 'manifest'), 'pull');
  assert.equal(requiredAction('HEAD', 'blob'), 'pull');
  assert.equal(requiredAction('GET', 'upload'), 'push');
  assert.equal(requiredAction('PUT', 'manifest'), 'push');
  assert.equal(requiredAction('DELETE', 'manifest'), 'delete');
  assert.equal(requiredAction('DELETE', 'upload'), 'push', 'cancelling an upload is part of pushing');
});
