// The doctor and trace through a regway gateway whose upstream is down, and against a gateway that
// hosts repositories with sign-in: they must say what the gateway said (its error body, its stale
// warning), and not mistake "100 Continue" for permission to push.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { formatFinding } from '../../src/diagnose/doctor/format.js';
import { formatTrace, trace } from '../../src/diagnose/trace/index.js';
import { toolUserAgent } from '../../src/obs/tools.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { USERS, startAuthGateway } from '../auth/fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';
import { absent, get, isolated, show } from './fixtures/assert.js';
import { waitFor } from '../helpers/wait.js';

describe('through a gateway whose upstream is down', () => {
  let dist: Distribution;
  let gw: TestGateway;
  let cached: PushedImage;
  let tmp: string;
  let upstream: string;

  before(async () => {
    tmp = makeTempDir('doctor-gw');
    dist = await startDistribution();
    upstream = dist.url;
    cached = await pushImage(dist.url, 'team/cached', '1', { layers: 1, layerSize: 50_000 });
    await pushImage(dist.url, 'team/never', '1', { layers: 1, layerSize: 1000 });
    gw = await startGateway({ registries: { [dist.host]: [dist.url] }, tagTtl: '1s' });
    // The gateway caches team/cached (manifest and blobs) through a doctor run while the upstream is up.
    get(await runDoctor(`${dist.host}/team/cached:1`, { ...isolated(tmp), via: gw.url }), 'MANIFEST_OK');
    await gw.inflight.drain(10_000);
    await dist.stop();
    // Wait (an event, not a sleep) until the tag is past its TTL and the gateway answers from its cache.
    let last = '';
    await waitFor(
      async () => {
        const r = await request(`${gw.url}/v2/${dist.host}/team/cached/manifests/1`, { method: 'HEAD', headers: { 'user-agent': toolUserAgent('doctor') } });
        await r.body.dump();
        last = `${r.statusCode} ${String(r.headers['x-regway-cache'])}`;
        return r.headers['x-regway-cache'] === 'stale';
      },
      'the gateway to serve the tag stale',
      30_000,
      { seen: () => last },
    );
  });
  after(async () => {
    await gw?.stop();
    await dist?.stop();
    removeTempDir(tmp);
  });

  it('an uncached image: MANIFEST_FAILED says which upstream refused the connection, and what to do', async () => {
    const r = await runDoctor(`${dist.host}/team/never:1`, { ...isolated(tmp), via: gw.url, timeoutMs: 10_000 });
    const f = get(r, 'MANIFEST_FAILED');
    assert.match(
      f.detail,
      new RegExp(`answered 502: the gateway's upstream ${upstream.replace(/[.:/]/g, '\\$&')} for ${dist.host.replace(/\./g, '\\.')} refused the connection \\(.*ECONNREFUSED`),
      show(r),
    );
    assert.match(f.fix ?? '', /cannot reach its upstream.*regway reload/);
    assert.equal((f.data?.errors as { code: string }[])[0]!.code, 'UPSTREAM_UNAVAILABLE');
    // What the code means is part of the finding, in --json and printed.
    assert.match(f.meaning ?? '', /unexpected status/);
    assert.match(formatFinding(f), /means: /);
  });

  it('a cached image: MANIFEST_STALE (a warning, not MANIFEST_OK), naming the upstream and since when it fails', async () => {
    const r = await runDoctor(`${dist.host}/team/cached:1`, { ...isolated(tmp), via: gw.url, timeoutMs: 10_000 });
    absent(r, 'MANIFEST_OK');
    const f = get(r, 'MANIFEST_STALE');
    assert.equal(f.severity, 'warn');
    assert.equal(f.data?.digest, cached.manifestDigest);
    assert.match(f.detail, /served stale from the gateway's cache \(Warning: 299/);
    assert.match(f.detail, new RegExp(`${upstream.replace(/[.:/]/g, '\\$&')} \\((failing|down) since \\d{4}-\\d\\d-\\d\\dT[^:]+:\\d\\d:\\d\\d\\.\\d+Z: .*ECONNREFUSED`), f.detail);
    assert.equal(r.worst, 'warn', show(r));
    get(r, 'BLOB_OK');
  });

  it('trace: the gateway endpoint fails with what its body says, not a bare 502', async () => {
    const root = join(tmp, 'node');
    mkdirSync(join(root, 'etc/containerd/certs.d', dist.host), { recursive: true });
    writeFileSync(join(root, 'etc/containerd/certs.d', dist.host, 'hosts.toml'), `server = "${upstream}"\n\n[host."${gw.url}"]\n  capabilities = ["pull", "resolve"]\n`);
    const t = await trace(`${dist.host}/team/never:1`, { root, runtimes: ['containerd'], timeoutMs: 5_000 });
    const mirror = t.runtimes[0]!.endpoints[0]!;
    assert.equal(mirror.probe?.status, 502);
    assert.match(mirror.probe?.said ?? '', new RegExp(`the gateway's upstream ${upstream.replace(/[.:/]/g, '\\$&')} .*refused the connection`));
    assert.match(formatTrace(t), /502: the gateway's upstream .* refused the connection/);
  });
});

describe('upload probe against a gateway with sign-in', () => {
  let gw: HostedGateway & { dir: string };
  let tmp: string;
  before(async () => {
    tmp = makeTempDir('doctor-upload');
    gw = await startAuthGateway();
    await pushImage(gw.url, 'local/app', 'v1', { layers: 1, layerSize: 1000, auth: { user: 'alice', password: USERS.alice } });
  });
  after(async () => {
    await gw?.stop();
    if (gw) removeTempDir(gw.dir);
    removeTempDir(tmp);
  });

  it('a pull-only user: UPLOAD_SKIPPED (no push permission), even when the server says 100 Continue first', async () => {
    const r = await runDoctor(`${gw.url}/local/app:v1`, { ...isolated(tmp), username: 'carol', password: USERS.carol });
    get(r, 'MANIFEST_OK');
    absent(r, 'UPLOAD_OK');
    assert.match(get(r, 'UPLOAD_SKIPPED').detail, /no push permission/, show(r));
  });

  it('anonymous: UPLOAD_SKIPPED; a user with push rights: UPLOAD_OK', async () => {
    const anon = await runDoctor(`${gw.url}/local/app:v1`, isolated(tmp));
    absent(anon, 'UPLOAD_OK');
    get(anon, 'UPLOAD_SKIPPED');
    const alice = await runDoctor(`${gw.url}/local/app:v1`, { ...isolated(tmp), username: 'alice', password: USERS.alice });
    get(alice, 'MANIFEST_OK');
    assert.equal(get(alice, 'UPLOAD_OK').severity, 'ok', show(alice));
  });
});
