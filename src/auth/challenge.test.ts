import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from './challenge.js';

test('parses a Docker Hub bearer challenge with a comma inside a quoted scope', () => {
  const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"');
  assert.equal(c?.scheme, 'bearer');
  assert.deepEqual(c?.params, { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull,push' });
});

test('parses Basic and several challenges', () => {
  const cs = parseChallenges('Basic realm="Registry Realm", Bearer realm="http://127.0.0.1:1/token",service="x"');
  assert.deepEqual(cs.map((c) => c.scheme), ['basic', 'bearer']);
  assert.equal(cs[0]?.params.realm, 'Registry Realm');
  assert.equal(cs[1]?.params.service, 'x');
});

test('nothing to parse gives nothing', () => {
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});
