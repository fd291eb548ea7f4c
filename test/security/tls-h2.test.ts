// HTTP/2 and TLS hardening (what a gateway exposed beyond loopback needs), on a gateway serving TLS with HTTP/2 and
// sign-in. Before the fix: HTTP/2 requests had no client address (audit lines `"ip":undefined`,
// unparseable; every h2 client one "client undefined"); no stream limit was advertised; a
// certificate replaced in place was not served after a reload (`needsRestart: []`); TLS 1.2
// offered CBC suites; plain HTTP on the TLS port got a silent close; a non-ASCII repository name
// got 401 without a challenge instead of NAME_INVALID. Each case failed there.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startAuthGateway } from '../auth/fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';
import { makeCert } from '../controller/certs.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { tlsWarnings } from '../../src/server/tls.js';
import { waitFor } from '../helpers/wait.js';

function h2get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path });
    let body = '';
    let status = 0;
    s.on('response', (h) => { status = Number(h[':status']); });
    s.on('data', (d) => { body += d; });
    s.on('end', () => resolve({ status, body }));
    s.on('error', reject);
  });
}

const fingerprintOf = (port: number, ca: string) => new Promise<string>((resolve, reject) => {
  const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => { resolve(s.getPeerX509Certificate()!.fingerprint256); s.end(); });
  s.on('error', reject);
});

describe('HTTP/2 and TLS', () => {
  let dir: string;
  let certA: ReturnType<typeof makeCert>;
  let certB: ReturnType<typeof makeCert>;
  let gw: HostedGateway & { dir: string };
  let certFile: string;
  let keyFile: string;

  before(async () => {
    dir = makeTempDir('tls-h2');
    certA = makeCert(dir, 'a');
    certB = makeCert(dir, 'b');
    certFile = join(dir, 'served.crt');
    keyFile = join(dir, 'served.key');
    copyFileSync(certA.certFile, certFile);
    copyFileSync(certA.keyFile, keyFile);
    chmodSync(keyFile, 0o600);
    gw = await startAuthGateway({ tls: { cert: certFile, key: keyFile, http2: true }, trustedProxies: ['10.9.9.9'] });
  });
  after(async () => { await gw?.stop(); removeTempDir(gw.dir); removeTempDir(dir); });

  it('HTTP/2 requests have a client address: audit lines are JSON with it, and the stream limit is advertised', async () => {
    const session = h2connect(`https://127.0.0.1:${gw.port}`, { ca: certA.ca });
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((r) => session.once('remoteSettings', r));
      assert.equal(settings.maxConcurrentStreams, 250);
      for (const p of ['/v2/public/a/manifests/v1', '/v2/public/b/manifests/v1', '/v2/public/c/manifests/v1']) await h2get(session, p);
    } finally { session.close(); }
    const file = join(gw.storage, '_obs', 'audit', 'audit.jsonl');
    const read = () => { try { return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean); } catch { return []; } };
    await waitFor(() => read().length >= 3, 'three audit lines', 5_000, { seen: () => read() });
    const lines = read();
    assert.ok(lines.length >= 3, `${lines.length} audit lines: ${lines.join('\n')}`);
    for (const l of lines) {
      const doc = JSON.parse(l) as { client: { ip: string } };
      assert.equal(doc.client.ip, '127.0.0.1', l.slice(0, 200));
    }
  });

  it('TLS 1.2 offers AEAD suites only', async () => {
    const attempt = (ciphers: string) => new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: certA.ca, servername: 'localhost', maxVersion: 'TLSv1.2', ciphers }, () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    assert.equal(await attempt('ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256'), false, 'CBC suites refused');
    assert.equal(await attempt('ECDHE-ECDSA-AES128-GCM-SHA256'), true);
  });

  it('plain HTTP on the TLS port gets a 400 that says to use https', async () => {
    const got = await new Promise<string>((resolve) => {
      const s = netConnect(gw.port, '127.0.0.1');
      let d = '';
      s.on('data', (x) => { d += x; });
      s.on('close', () => resolve(d));
      s.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    assert.match(got, /^HTTP\/1\.1 400 /);
    assert.match(got, /use https:\/\//);
  });

  it('a non-ASCII repository name is NAME_INVALID before any authentication', async () => {
    const session = h2connect(`https://127.0.0.1:${gw.port}`, { ca: certA.ca });
    try {
      const r = await h2get(session, '/v2/caf%C3%A9/manifests/v1');
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.body).errors[0].code, 'NAME_INVALID');
    } finally { session.close(); }
  });

  it('a certificate replaced in place is served after a reload, and the reload says so', async () => {
    const before = await fingerprintOf(gw.port, certA.ca);
    assert.equal(before, new X509Certificate(certA.cert).fingerprint256);
    copyFileSync(certB.certFile, certFile);
    copyFileSync(certB.keyFile, keyFile);
    const r = await gw.reload(gw.currentConfig());
    assert.ok(r.changed.includes('tls.certificate'), JSON.stringify(r));
    assert.ok(!r.needsRestart.some((p) => p.startsWith('tls')), JSON.stringify(r));
    assert.equal(await fingerprintOf(gw.port, certB.ca), new X509Certificate(certB.cert).fingerprint256);
  });

  it('warnings for an expired (or soon expiring) certificate and a key others can read', () => {
    const t = { cert: certFile, key: keyFile, http2: true };
    assert.deepEqual(tlsWarnings(t).filter((w) => /expired|readable/.test(w)), [], 'none now (the test certificate is valid one day: a soon-expiry warning is right)');
    assert.match(tlsWarnings(t).join('\n'), /expires on/);
    assert.match(tlsWarnings(t, Date.now() + 3 * 86_400_000).join('\n'), /expired on/);
    chmodSync(keyFile, 0o644);
    try { assert.match(tlsWarnings(t).join('\n'), /readable by other users \(mode 644\)/); } finally { chmodSync(keyFile, 0o600); }
  });
});
