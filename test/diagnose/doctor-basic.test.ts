// Doctor scenarios against a plain real distribution: the healthy path, the wrong scheme, nothing listening, no DNS,
// a full accept queue, a hung server, unknown tags, a missing platform, a blob gone from storage, and a check
// through a regway gateway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, type PushedImage } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { absent, get, isolated, show } from './fixtures/assert.js';
import { waitFor } from '../helpers/wait.js';

let dist: Distribution;
let img: PushedImage;
let tmp: string;

before(async () => {
  tmp = makeTempDir('doctor-basic');
  dist = await startDistribution();
  img = await pushImage(dist.url, 'team/app', 'v1.2.3', { layers: 2, layerSize: 400_000 });
  await pushIndex(dist.url, 'team/multi', '1.0', [{ os: 'linux', architecture: 'amd64' }], { layers: 1, layerSize: 1000 });
});
after(async () => {
  await dist.stop();
  removeTempDir(tmp);
});

test('healthy registry over http://: every stage ok, nothing worse than info, upload probe leaves nothing behind', async () => {
  const before = (await dist.accessLog()).length;
  const r = await runDoctor(`http://${dist.host}/team/app:v1.2.3`, { ...isolated(tmp), timeoutMs: 10_000 });
  assert.equal(r.worst, 'info', show(r));
  for (const c of ['DNS_OK', 'TCP_OK', 'PING_OK', 'AUTH_NONE', 'CRED_NONE', 'MANIFEST_OK', 'BLOB_OK', 'UPLOAD_OK']) get(r, c);
  assert.equal(get(r, 'MANIFEST_OK').data?.digest, img.manifestDigest);
  assert.ok(
    r.findings.every((f) => typeof f.durationMs === 'number'),
    'every stage is timed',
  );
  // The upload probe opened a session and cancelled it: the registry logged the POST and the DELETE, and no PUT.
  const log = (await dist.accessLog()).slice(before);
  const uploads = log.filter((l) => l.path.startsWith('/v2/team/app/blobs/uploads/'));
  assert.deepEqual(
    uploads.map((l) => [l.method, l.status]),
    [
      ['POST', 202],
      ['DELETE', 204],
    ],
  );
});

test('a name that resolves (localhost) reports the addresses', async () => {
  const r = await runDoctor(`http://localhost:${dist.port}`, { ...isolated(tmp) });
  assert.match(get(r, 'DNS_OK').detail, /resolves to .*(127\.0\.0\.1|::1)/);
  get(r, 'MANIFEST_SKIPPED');
});

test('plain-HTTP registry on loopback probed as HTTPS: SCHEME_HTTP_ONLY (a warning there), then the rest is checked over http', async () => {
  const r = await runDoctor(`${dist.host}/team/app:v1.2.3`, { ...isolated(tmp) });
  const f = get(r, 'SCHEME_HTTP_ONLY');
  // dockerd and containerd use http on loopback by themselves; only podman/skopeo need telling.
  assert.equal(f.severity, 'warn', show(r));
  assert.match(f.detail, /podman, skopeo and CRI-O need insecure = true/);
  // The fix names the exact declarative entry, which is what `regway config` renders (test/config/hosts-toml-netns.test.ts).
  assert.match(f.fix ?? '', new RegExp(`server: http://${dist.host.replace(/\./g, '\\.')}\` and \`insecure: true\``));
  assert.equal(r.worst, 'warn');
  get(r, 'MANIFEST_OK');
  const insecure = await runDoctor(`${dist.host}/team/app:v1.2.3`, { ...isolated(tmp), insecure: true });
  assert.equal(get(insecure, 'SCHEME_HTTP_ONLY').severity, 'info', 'with --insecure it is what the user asked for');
  assert.equal(insecure.worst, 'info', `a CI gate on a lab passes (exit 0)\n${show(insecure)}`);
});

test('closed port: TCP_REFUSED and the doctor stops there', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const r = await runDoctor(`127.0.0.1:${port}/x/y:1`, { ...isolated(tmp) });
  get(r, 'TCP_REFUSED');
  assert.deepEqual(
    r.findings.map((f) => f.stage),
    ['dns', 'tcp'],
  );
});

test('a name that does not resolve: DNS_FAILED', async () => {
  const r = await runDoctor('registry.regway-doctor-test.invalid/team/app:1', { ...isolated(tmp) });
  assert.equal(get(r, 'DNS_FAILED').data?.code, 'ENOTFOUND');
  assert.equal(r.findings.length, 1);
});

test('a server whose accept queue is full: TCP_TIMEOUT', async () => {
  // perl (always on Debian) listens with backlog 1 and never accepts; once the queue is full the
  // kernel drops further SYNs, exactly what an overloaded registry does.
  const p: ChildProcess = spawn('perl', ['-MIO::Socket::INET', '-e', '$s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1) or die; $|=1; print $s->sockport,"\\n"; sleep 120'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const fillers: Socket[] = [];
  try {
    const port = Number(await new Promise<string>((r) => p.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
    for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
    // Backlog 1: the kernel completes two handshakes into the accept queue, then drops SYNs.
    await waitFor(() => fillers.filter((s) => !s.connecting).length >= 2, 'the accept queue to fill (two queued connections)', 10_000, {
      seen: () => `${fillers.filter((s) => !s.connecting).length} connected`,
    });
    const r = await runDoctor(`127.0.0.1:${port}/x/y:1`, { ...isolated(tmp), timeoutMs: 1500 });
    get(r, 'TCP_TIMEOUT');
  } finally {
    for (const s of fillers) s.destroy();
    p.kill('SIGKILL');
  }
});

test('a server that accepts and never answers: PING_TIMEOUT', async () => {
  const held: Socket[] = [];
  const srv = createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const r = await runDoctor(`http://127.0.0.1:${port}/x/y:1`, { ...isolated(tmp), timeoutMs: 1000 });
    get(r, 'PING_TIMEOUT');
  } finally {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('a server that accepts and resets every connection (a load balancer with no backend): TCP_FAILED', async () => {
  const srv = createServer((s) => {
    s.on('error', () => undefined);
    s.resetAndDestroy();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const r = await runDoctor(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/x/y:1`, { ...isolated(tmp), timeoutMs: 3000 });
    assert.match(get(r, 'TCP_FAILED').detail, /ECONNRESET|closed/);
  } finally {
    srv.close();
  }
});

test('unknown tag: MANIFEST_UNKNOWN; missing platform: MANIFEST_PLATFORM_MISSING with the platforms that exist', async () => {
  get(await runDoctor(`http://${dist.host}/team/app:nope`, { ...isolated(tmp) }), 'MANIFEST_UNKNOWN');
  const r = await runDoctor(`http://${dist.host}/team/multi:1.0`, { ...isolated(tmp), platform: 'linux/arm64' });
  const f = get(r, 'MANIFEST_PLATFORM_MISSING');
  assert.deepEqual(f.data?.platforms, ['linux/amd64']);
  absent(r, 'BLOB_OK');
  get(await runDoctor(`http://${dist.host}/team/multi:1.0`, { ...isolated(tmp), platform: 'linux/amd64' }), 'BLOB_OK');
});

test('a layer deleted from the registry: BLOB_FAILED with 404', async () => {
  const broken = await pushImage(dist.url, 'team/broken', '1', { layers: 1, layerSize: 5000 });
  const del = await fetch(`${dist.url}/v2/team/broken/blobs/${broken.layers[0]!.digest}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
  const r = await runDoctor(`http://${dist.host}/team/broken:1`, { ...isolated(tmp) });
  get(r, 'MANIFEST_OK');
  assert.equal(get(r, 'BLOB_FAILED').data?.status, 404);
});

test('through a regway gateway (--via): manifest and blob via ?ns=, upload skipped', async () => {
  const gw: TestGateway = await startGateway({ registries: { [dist.host]: [dist.url] } });
  try {
    const r = await runDoctor(`${dist.host}/team/app:v1.2.3`, { ...isolated(tmp), via: gw.url });
    assert.equal(r.registry, dist.host);
    assert.equal(get(r, 'MANIFEST_OK').data?.digest, img.manifestDigest);
    get(r, 'BLOB_OK');
    get(r, 'UPLOAD_SKIPPED');
    absent(r, 'SCHEME_HTTP_ONLY');
  } finally {
    await gw.stop();
  }
});

test('a target that is neither registry nor image: TARGET_INVALID', async () => {
  const r = await runDoctor('UPPER/Case:bad tag', {});
  get(r, 'TARGET_INVALID');
  assert.equal(r.worst, 'error');
});
