import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { libtrustKeyId, selfSignedCert } from './x509.js';

test('self-signed certificate parses, verifies with its own key and carries the SANs', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = selfSignedCert({ commonName: 'regway test', organization: 'regway', altNames: ['localhost', '127.0.0.1', '::1', 'reg.example'], days: 30, privateKey, publicKey });
  const c = new X509Certificate(pem);
  assert.ok(c.verify(publicKey), 'signature checks out against the embedded key');
  assert.equal(c.issuer, c.subject);
  assert.match(c.subject, /CN=regway test/);
  assert.ok(c.ca);
  assert.equal(c.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:reg.example');
  assert.ok(c.checkHost('reg.example'));
  assert.ok(c.checkIP('127.0.0.1'));
  assert.ok(c.checkIP('::1'));
  const days = (Date.parse(c.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days < 31, `valid for ~30 days, got ${days}`);
  assert.equal(c.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), publicKey.export({ type: 'spki', format: 'der' }).toString('hex'));
});

test('openssl accepts the certificate as its own trust anchor for TLS server use', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = selfSignedCert({ commonName: 'x', altNames: ['localhost'], days: 1, privateKey, publicKey });
  const dir = spawnSync('mktemp', ['-d']).stdout.toString().trim();
  t.after(() => spawnSync('rm', ['-rf', dir]));
  spawnSync('sh', ['-c', `cat > ${dir}/c.pem`], { input: pem });
  const r = spawnSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', `${dir}/c.pem`, `${dir}/c.pem`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /OK/);
});

test('libtrust key id: 12 colon-separated groups of 4 base32 characters, stable per key', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const id = libtrustKeyId(publicKey);
  assert.match(id, /^[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}$/);
  assert.equal(libtrustKeyId(publicKey), id);
  assert.notEqual(libtrustKeyId(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), id);
});
