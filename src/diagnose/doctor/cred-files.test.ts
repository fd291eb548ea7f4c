import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containersKey, decodeEntry, dockerHelper, dockerKey, malformedKeys } from './cred-files.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('docker lookup: exact key, then keys reduced to their host; Docker Hub under its v1 key', () => {
  const doc = { auths: { 'https://reg.example.com/v2/': { auth: b64('a:b') }, 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } };
  assert.equal(dockerKey(doc, 'reg.example.com'), 'https://reg.example.com/v2/');
  assert.equal(dockerKey(doc, 'docker.io'), 'https://index.docker.io/v1/');
  assert.equal(dockerKey(doc, 'other.example.com'), undefined);
});

test('containers lookup prefers the most specific namespace', () => {
  const doc = { auths: { 'reg.example.com': { auth: b64('host:1') }, 'reg.example.com/team': { auth: b64('team:2') }, 'reg.example.com/team/app': { auth: b64('app:3') } } };
  assert.equal(containersKey(doc, 'reg.example.com', 'team/app'), 'reg.example.com/team/app');
  assert.equal(containersKey(doc, 'reg.example.com', 'team/other'), 'reg.example.com/team');
  assert.equal(containersKey(doc, 'reg.example.com', 'solo'), 'reg.example.com');
  assert.equal(containersKey({ auths: { 'docker.io': { auth: b64('x:y') } } }, 'docker.io', 'library/alpine'), 'docker.io');
});

test('decoding: password may contain ":", a missing ":" is malformed, identity tokens are recognised', () => {
  assert.deepEqual(decodeEntry({ auth: b64('u:p:q') }), { username: 'u', password: 'p:q' });
  assert.equal(decodeEntry({ auth: b64('nocolon') }), 'malformed');
  assert.equal(decodeEntry({ identitytoken: 'x' }), 'token');
  assert.deepEqual(malformedKeys({ auths: { a: { auth: b64('nocolon') }, b: { auth: b64('u:p') } } }), ['a']);
});

test('helpers: credHelpers for the host wins over credsStore', () => {
  assert.deepEqual(dockerHelper({ credsStore: 'desktop', credHelpers: { 'reg.example.com': 'ecr-login' } }, 'reg.example.com'), { helper: 'ecr-login', via: 'credHelpers' });
  assert.deepEqual(dockerHelper({ credsStore: 'desktop' }, 'reg.example.com'), { helper: 'desktop', via: 'credsStore' });
  assert.equal(dockerHelper({}, 'reg.example.com'), undefined);
});
