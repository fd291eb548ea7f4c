import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPeerNetworks, signPeerRequest, trustedPeerOrigin, verifyPeerRequest } from './peer-auth.js';

const TOKEN = 'a-fleet-secret-of-some-length';
const D = `sha256:${'a'.repeat(64)}`;

test('a peer signature is bound to the digest, the offset, the secret and a 30 s window', () => {
  const now = 1_800_000_000_000;
  const h = signPeerRequest(TOKEN, D, 100, now);
  assert.ok(verifyPeerRequest(TOKEN, h, D, 100, now + 10_000));
  assert.ok(!verifyPeerRequest(TOKEN, h, D, 0, now), 'another offset');
  assert.ok(!verifyPeerRequest(TOKEN, h, `sha256:${'b'.repeat(64)}`, 100, now), 'another blob');
  assert.ok(!verifyPeerRequest('another-secret-entirely', h, D, 100, now), 'another secret');
  assert.ok(!verifyPeerRequest(TOKEN, h, D, 100, now + 31_000), 'too old');
  assert.ok(!verifyPeerRequest(TOKEN, TOKEN, D, 100, now), 'the bare secret is not a signature');
  assert.ok(!verifyPeerRequest(TOKEN, undefined, D, 100, now));
  assert.ok(!h.includes(TOKEN), 'the secret never travels');
});

test('peer addresses from Redis: only inside the peer networks, only their origin', () => {
  const nets = ['10.244.0.0/16', '*.regway.ns.svc.cluster.local', 'fd00::/8'];
  assert.equal(trustedPeerOrigin('http://10.244.3.7:5000/evil/path?x=1', nets), 'http://10.244.3.7:5000');
  assert.equal(trustedPeerOrigin('http://regway-1.regway.ns.svc.cluster.local:5000', nets), 'http://regway-1.regway.ns.svc.cluster.local:5000');
  assert.equal(trustedPeerOrigin('http://[fd00::5]:5000', nets), 'http://[fd00::5]:5000');
  for (const bad of ['http://169.254.169.254/latest/meta-data', 'http://10.245.0.1:5000', 'http://evil.example:5000', 'file:///etc/passwd', 'gopher://10.244.0.1/', 'http://regway.ns.svc.cluster.local.evil.io', 'not a url']) {
    assert.equal(trustedPeerOrigin(bad, nets), undefined, bad);
  }
});

test('default peer networks sit around the advertised address', () => {
  assert.deepEqual(defaultPeerNetworks('http://10.1.2.3:5000'), ['10.1.0.0/16']);
  assert.deepEqual(defaultPeerNetworks('http://regway-0.regway.ns.svc:5000'), ['regway-0.regway.ns.svc', '*.regway.ns.svc']);
  assert.equal(trustedPeerOrigin('http://127.0.0.1:7000', defaultPeerNetworks('http://127.0.0.1:6000')), 'http://127.0.0.1:7000');
});
