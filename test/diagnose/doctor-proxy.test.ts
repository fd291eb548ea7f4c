// Scenarios with a real nginx in front of a real distribution: a rate-limited (slow) upstream, the same with a
// short timeout, a small client_max_body_size (413 on pushes), a route that does not forward /v2/, a proxy whose
// upstream is down (502), and a 401 that lost its WWW-Authenticate header.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { startNginx, type Nginx } from './fixtures/nginx.js';
import { absent, get, isolated, show } from './fixtures/assert.js';

let dist: Distribution;
let tmp: string;
const proxies: Nginx[] = [];

// nginx's default body limit is 1m: the proxies here lift it unless the test is about it.
const proxyTo = (port: number, extra = '', bodyLimit = '0'): string =>
  `location /v2/ { proxy_pass http://127.0.0.1:${port}; proxy_set_header Host $http_host; proxy_http_version 1.1; client_max_body_size ${bodyLimit}; ${extra} }`;

before(async () => {
  tmp = makeTempDir('doctor-proxy');
  dist = await startDistribution();
  await pushImage(dist.url, 'team/big', '3.1', { layers: 1, layerSize: 1_200_000 });
});
after(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await dist.stop();
  removeTempDir(tmp);
});

async function nginx(body: string): Promise<Nginx> {
  const n = await startNginx(() => body);
  proxies.push(n);
  return n;
}

test('slow upstream (nginx limit_rate 128k): BLOB_SLOW with the measured rate and the projected pull time', async () => {
  const ng = await nginx(proxyTo(dist.port, 'limit_rate 128k;'));
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, { ...isolated(tmp), sampleBytes: 384 * 1024, timeoutMs: 30_000 });
  const f = get(r, 'BLOB_SLOW');
  const rate = f.data?.bytesPerSecond as number;
  // nginx paces at 128 KiB/s; the measurement must land near it, far below the 1 MiB/s threshold.
  assert.ok(rate > 64 * 1024 && rate < 512 * 1024, `rate ${rate}\n${show(r)}`);
  assert.match(f.fix ?? '', /mirror.*max-concurrent-downloads/s);
  assert.equal(r.worst, 'warn', show(r));
  // Directly, the same registry is fast: the proxy is the cause.
  get(await runDoctor(`http://${dist.host}/team/big:3.1`, { ...isolated(tmp), sampleBytes: 384 * 1024 }), 'BLOB_OK');
});

test('the same slow upstream with a short timeout: BLOB_TIMEOUT (error) suggesting a mirror and download settings', async () => {
  const ng = await nginx(proxyTo(dist.port, 'limit_rate 32k;'));
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, { ...isolated(tmp), sampleBytes: 1024 * 1024, timeoutMs: 2000 });
  const f = get(r, 'BLOB_TIMEOUT');
  assert.ok((f.data?.sampleBytes as number) < 1024 * 1024);
  assert.match(f.fix ?? '', /regway warm/);
  assert.equal(r.worst, 'error');
});

test('nginx client_max_body_size 1m: UPLOAD_BODY_LIMIT names nginx, the setting and the limit it found', async () => {
  const ng = await nginx(proxyTo(dist.port, '', '1m'));
  const before = (await dist.accessLog()).length;
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, isolated(tmp));
  const f = get(r, 'UPLOAD_BODY_LIMIT');
  assert.match(f.fix ?? '', /client_max_body_size 0/);
  const limit = f.data?.limitBytes as number;
  assert.ok(limit <= 1024 * 1024 && limit > 1024 * 1024 * 0.98, `limit ${limit}`);
  // Pulls through this proxy are fine: only pushes of layers over 1 MiB break.
  get(r, 'MANIFEST_OK');
  // The probes never reached the registry with a body: no upload was created there.
  const uploads = (await dist.accessLog()).slice(before).filter((l) => l.path.includes('/blobs/uploads/'));
  assert.deepEqual(uploads, []);
});

test('a proxy route that does not forward /v2/: PING_NOT_REGISTRY', async () => {
  const ng = await nginx('location / { return 404; }');
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, isolated(tmp));
  assert.match(get(r, 'PING_NOT_REGISTRY').detail, /404 from nginx/);
  absent(r, 'MANIFEST_OK');
});

test('a proxy whose registry is down: PING_SERVER_ERROR (502)', async () => {
  const ng = await nginx(proxyTo(await freePort()));
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, isolated(tmp));
  assert.equal(get(r, 'PING_SERVER_ERROR').data?.status, 502);
});

test('a proxy that fails manifest requests (500) while /v2/ works: MANIFEST_FAILED', async () => {
  const ng = await nginx(`location ~ ^/v2/.+/manifests/ { return 500; }\n    ${proxyTo(dist.port)}`);
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, isolated(tmp));
  get(r, 'PING_OK');
  assert.match(get(r, 'MANIFEST_FAILED').detail, /answered 500/);
});

test('a 401 without WWW-Authenticate: AUTH_CHALLENGE_MISSING', async () => {
  const ng = await nginx('location /v2/ { add_header Docker-Distribution-Api-Version registry/2.0 always; return 401; }');
  const r = await runDoctor(`http://${ng.host}/team/big:3.1`, isolated(tmp));
  get(r, 'AUTH_CHALLENGE_MISSING');
});
