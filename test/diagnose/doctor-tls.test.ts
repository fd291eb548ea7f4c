// TLS scenarios with certificates made by openssl and served by real distributions (Go's TLS, which offers h2) and
// nginx (no http2 on the listener): self-signed, unknown CA, wrong name, expired, expiring, insecure mode, the
// --ca-file fix, an HTTPS registry addressed with http://, and a port that speaks neither.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { makeCa, makeLeaf, type CertFiles } from './fixtures/certs.js';
import { startRegistry, type Registry } from './fixtures/registry.js';
import { startNginx } from './fixtures/nginx.js';
import { absent, get, isolated, show } from './fixtures/assert.js';

let tmp: string;
let ca: CertFiles;
const regs: Record<string, Registry> = {};
const SAN = 'IP:127.0.0.1,DNS:localhost';

before(async () => {
  tmp = makeTempDir('doctor-tls');
  ca = makeCa(join(tmp, 'ca'));
  const certs: Record<string, CertFiles> = {
    self: makeLeaf(join(tmp, 'self'), { name: 'self', san: SAN }),
    signed: makeLeaf(join(tmp, 'signed'), { name: 'signed', san: SAN, ca }),
    wrongName: makeLeaf(join(tmp, 'wrong'), { name: 'wrong', san: 'DNS:registry.other.example', ca }),
    expired: makeLeaf(join(tmp, 'expired'), { name: 'expired', san: SAN, ca, start: '20200101000000Z', end: '20200201000000Z' }),
    expiring: makeLeaf(join(tmp, 'expiring'), { name: 'expiring', san: SAN, ca, days: 3 }),
  };
  await Promise.all(
    Object.entries(certs).map(async ([k, c]) => {
      regs[k] = await startRegistry({ tls: c });
    }),
  );
});
after(async () => {
  await Promise.all(Object.values(regs).map((r) => r.stop()));
  removeTempDir(tmp);
});

test('self-signed: TLS_SELF_SIGNED; the fix (--ca-file) gives TLS_OK with TLS 1.3 and h2; --insecure says it skipped', async () => {
  const host = regs.self!.host;
  const r = await runDoctor(host, isolated(tmp));
  assert.equal(get(r, 'TLS_SELF_SIGNED').severity, 'error');
  assert.equal(r.worst, 'error');
  get(r, 'PING_OK'); // the doctor keeps going past the certificate problem
  const fixed = await runDoctor(host, { ...isolated(tmp), caFile: join(tmp, 'self', 'self.crt') });
  const ok = get(fixed, 'TLS_OK');
  assert.equal(ok.data?.protocol, 'TLSv1.3');
  assert.equal(ok.data?.alpn, 'h2');
  absent(fixed, 'TLS_NO_H2');
  assert.equal(fixed.worst, 'info', show(fixed));
  const insecure = await runDoctor(host, { ...isolated(tmp), insecure: true });
  assert.match(get(insecure, 'TLS_VERIFY_SKIPPED').detail, /self-signed/);
  absent(insecure, 'TLS_SELF_SIGNED');
});

test('signed by a private CA: TLS_UNKNOWN_CA until the CA is given', async () => {
  const r = await runDoctor(regs.signed!.host, isolated(tmp));
  assert.match(get(r, 'TLS_UNKNOWN_CA').fix ?? '', /certs\.d/);
  const fixed = await runDoctor(regs.signed!.host, { ...isolated(tmp), caFile: ca.cert });
  assert.deepEqual(get(fixed, 'TLS_OK').data?.chain, ['signed', 'regway test CA']);
});

test('wrong name, expired, expiring soon', async () => {
  const wrong = await runDoctor(regs.wrongName!.host, { ...isolated(tmp), caFile: ca.cert });
  assert.match(get(wrong, 'TLS_HOSTNAME_MISMATCH').detail, /registry\.other\.example/);
  const expired = await runDoctor(regs.expired!.host, { ...isolated(tmp), caFile: ca.cert });
  assert.match(get(expired, 'TLS_EXPIRED').detail, /expired \d+ days ago/);
  const soon = await runDoctor(regs.expiring!.host, { ...isolated(tmp), caFile: ca.cert });
  get(soon, 'TLS_OK');
  const f = get(soon, 'TLS_EXPIRING');
  assert.equal(f.severity, 'warn');
  assert.ok((f.data?.daysLeft as number) <= 3);
  assert.equal(soon.worst, 'warn');
});

test('an HTTPS registry addressed with http://: SCHEME_HTTPS_ONLY, then TLS is checked', async () => {
  const r = await runDoctor(`http://${regs.signed!.host}`, { ...isolated(tmp), caFile: ca.cert });
  get(r, 'SCHEME_HTTPS_ONLY');
  get(r, 'TLS_OK');
  get(r, 'PING_OK');
});

test('nginx TLS listener without http2: TLS_NO_H2 (info)', async () => {
  const ng = await startNginx(() => 'location /v2/ { default_type application/json; add_header Docker-Distribution-Api-Version registry/2.0 always; return 200 "{}"; }', {
    tls: { cert: join(tmp, 'signed', 'signed.crt'), key: join(tmp, 'signed', 'signed.key') },
  });
  try {
    const r = await runDoctor(ng.host, { ...isolated(tmp), caFile: ca.cert });
    get(r, 'TLS_OK');
    assert.equal(get(r, 'TLS_NO_H2').data?.alpn, 'http/1.1');
    get(r, 'PING_OK');
  } finally {
    await ng.stop();
  }
});

test('a port that speaks neither TLS nor HTTP (an SSH banner): TLS_HANDSHAKE_FAILED', async () => {
  const srv = createServer((s) => {
    s.on('error', () => undefined);
    s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const r = await runDoctor(`127.0.0.1:${(srv.address() as AddressInfo).port}`, { ...isolated(tmp), timeoutMs: 3000 });
    get(r, 'TLS_HANDSHAKE_FAILED');
  } finally {
    srv.close();
  }
});
