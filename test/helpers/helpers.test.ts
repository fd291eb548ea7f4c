// Proves the integration-test helpers against a real distribution with real clients — no gateway
// involved. If this file fails, fix the environment/helpers before trusting any gateway test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { freePort, waitForHttp } from './ports.js';
import { parseAccessLog, startDistribution, type Distribution } from './distribution.js';
import { buildImage, pushImage, pushIndex, pushReferrer, sha256, type PushedImage, type PushedIndex } from './images.js';
import {
  createPodman,
  ctrPull,
  dockerPull,
  ociLayoutDigest,
  podmanPull,
  skopeoCopy,
  skopeoInspectDigest,
  startContainerd,
  startDockerd,
  writeHostsToml,
  type Containerd,
} from './clients.js';
import { makeTempDir, removeTempDir } from './proc.js';

const MB = 1024 * 1024;

describe('ports', () => {
  test('freePort gives distinct usable ports; waitForHttp times out on a closed port', async () => {
    const a = await freePort();
    const b = await freePort();
    assert.ok(a > 0 && b > 0);
    await assert.rejects(waitForHttp(`http://127.0.0.1:${a}/`, 300), /timed out/);
  });
});

describe('pure helpers', () => {
  test('access log parser reads distribution 2.8 combined-format lines and skips JSON lines', () => {
    const text = [
      '{"level":"info","msg":"listening on 127.0.0.1:5999"}',
      '127.0.0.1 - - [30/Nov/2026:02:11:16 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"',
      '127.0.0.1 - alice [30/Nov/2026:02:11:16 +0000] "HEAD /v2/foo/manifests/latest HTTP/1.1" 404 96 "" "containerd/1.6.20~ds1"',
      '127.0.0.1 - - [30/Nov/2026:02:13:28 +0000] "PUT /v2/a/blobs/uploads/u?_state=x&digest=sha256%3Aab HTTP/1.1" 201 0 "" "node"',
      '',
    ].join('\n');
    const lines = parseAccessLog(text);
    assert.equal(lines.length, 3);
    assert.deepEqual(
      lines.map((l) => [l.method, l.path, l.status]),
      [
        ['GET', '/v2/', 200],
        ['HEAD', '/v2/foo/manifests/latest', 404],
        ['PUT', '/v2/a/blobs/uploads/u', 201],
      ],
    );
    assert.equal(lines[1]!.userAgent, 'containerd/1.6.20~ds1');
    assert.equal(lines[2]!.uri, '/v2/a/blobs/uploads/u?_state=x&digest=sha256%3Aab');
  });

  test('generated layers are gzipped ustar archives GNU tar can list and extract', () => {
    const img = buildImage({ layers: 1, layerSize: 100_000 });
    const layer = img.layers[0]!;
    const tar = gunzipSync(layer.bytes);
    assert.equal(sha256(tar), layer.diffId);
    assert.equal(sha256(layer.bytes), layer.digest);
    const cfg = JSON.parse(img.config.bytes.toString()) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(cfg.rootfs.diff_ids, [layer.diffId]);
    const dir = makeTempDir('tar');
    try {
      writeFileSync(join(dir, 'l.tgz'), layer.bytes);
      const listing = execFileSync('tar', ['-tvzf', join(dir, 'l.tgz')], { encoding: 'utf8' });
      assert.match(listing, /^-rw-r--r-- root\/root\s+100000 .* regway-layer-0-[0-9a-f]+\.bin$/m);
      mkdirSync(join(dir, 'x'));
      execFileSync('tar', ['-xzf', join(dir, 'l.tgz'), '-C', join(dir, 'x')]);
      const name = listing.trim().split(/\s+/).pop()!;
      assert.equal(sha256(execFileSync('cat', [join(dir, 'x', name)])), sha256(tar.subarray(512, 512 + 100_000)));
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('real registry + real clients', () => {
  let dist: Distribution;
  let single: PushedImage;
  let dockerSingle: PushedImage;
  let index: PushedIndex;
  let ctrd: Containerd | undefined;
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - t;
    }
  };

  before(async () => {
    dist = await timed('distribution start', () => startDistribution());
    single = await timed('push 2x3MB image', () => pushImage(dist.url, 'it/single', 'v1', { layers: 2, layerSize: 3 * MB }));
    dockerSingle = await pushImage(dist.url, 'it/dockerfmt', 'v1', { layers: 1, layerSize: MB, format: 'docker' });
    index = await timed('push 2-platform index', () =>
      pushIndex(dist.url, 'it/multi', 'v1', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], {
        layers: 1,
        layerSize: MB,
      }),
    );
  });

  after(async () => {
    await ctrd?.stop();
    await dist?.stop();
    console.log('helper timings (ms):', JSON.stringify(timings));
  });

  test('pushed content is served back byte-for-byte', async () => {
    const res = await fetch(`${dist.url}/v2/it/single/manifests/v1`, { headers: { accept: single.mediaType } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), single.manifestDigest);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), single.manifest);
    const blob = await fetch(`${dist.url}/v2/it/single/blobs/${single.layers[0]!.digest}`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), single.layers[0]!.digest);
    assert.ok(single.layers.every((l) => l.size > 3 * MB));
  });

  test('skopeo: copy single image and --multi-arch all index into oci: layouts', async () => {
    const out = makeTempDir('oci');
    try {
      const r1 = await timed('skopeo copy single', () => skopeoCopy(`docker://${dist.host}/it/single:v1`, `oci:${join(out, 'single')}:v1`));
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(ociLayoutDigest(join(out, 'single'), 'v1'), single.manifestDigest);
      const r2 = await timed('skopeo copy index --multi-arch all', () =>
        skopeoCopy(`docker://${dist.host}/it/multi:v1`, `oci:${join(out, 'multi')}:v1`, { multiArch: 'all' }),
      );
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(ociLayoutDigest(join(out, 'multi'), 'v1'), index.digest);
      for (const c of index.children) {
        for (const d of [c.manifestDigest, c.config.digest, ...c.layers.map((l) => l.digest)]) {
          assert.ok(existsSync(join(out, 'multi', 'blobs', 'sha256', d.slice(7))), `missing ${d}`);
        }
      }
      assert.equal(await skopeoInspectDigest(`docker://${dist.host}/it/multi:v1`), index.digest);
    } finally {
      removeTempDir(out);
    }
  });

  test('podman: pulls single image and index (vfs storage, private dirs)', async () => {
    const registriesConf = `[[registry]]\nlocation = "${dist.host}"\ninsecure = true\n`;
    const d1 = await timed('podman pull single', () => podmanPull(`${dist.host}/it/single:v1`, { registriesConf }));
    assert.equal(d1, single.manifestDigest);
    const p = createPodman({ registriesConf });
    try {
      const d2 = await timed('podman pull index (arm64)', () => p.pull(`${dist.host}/it/multi:v1`, { platform: 'linux/arm64' }));
      assert.equal(d2, index.digest);
      const arch = await p.run(['image', 'inspect', '--format', '{{.Architecture}}', `${dist.host}/it/multi:v1`]);
      assert.equal(arch.stdout.trim(), 'arm64');
    } finally {
      p.cleanup();
    }
  });

  test('containerd/ctr: pulls through a hosts.toml (plain http)', async () => {
    ctrd = await timed('containerd start', () => startContainerd());
    const hosts = makeTempDir('hosts');
    try {
      writeHostsToml(hosts, dist.host, { server: dist.url, mirrors: [{ url: dist.url }] });
      const d1 = await timed('ctr pull single', () => ctrPull(ctrd!, `${dist.host}/it/single:v1`, hosts));
      assert.equal(d1, single.manifestDigest);
      const d2 = await timed('ctr pull index --all-platforms', () => ctrPull(ctrd!, `${dist.host}/it/multi:v1`, hosts, { allPlatforms: true }));
      assert.equal(d2, index.digest);
      const d3 = await ctrPull(ctrd!, `${dist.host}/it/dockerfmt:v1`, hosts, { platform: 'linux/amd64' });
      assert.equal(d3, dockerSingle.manifestDigest);
    } finally {
      removeTempDir(hosts);
    }
  });

  test('dockerd: pulls single, docker-format and index while the other containerd still runs', async () => {
    assert.ok(ctrd, 'previous test left containerd running on purpose');
    const dk = await timed('dockerd start', () => startDockerd({ insecureRegistries: [dist.host] }));
    try {
      assert.equal(await timed('docker pull single', () => dockerPull(dk, `${dist.host}/it/single:v1`)), single.manifestDigest);
      assert.equal(await dockerPull(dk, `${dist.host}/it/dockerfmt:v1`), dockerSingle.manifestDigest);
      assert.equal(await timed('docker pull index', () => dockerPull(dk, `${dist.host}/it/multi:v1`)), index.digest);
      assert.equal((await ctrd.ctr(['version'])).code, 0);
    } finally {
      await timed('dockerd stop', () => dk.stop());
    }
    assert.ok(!existsSync(dk.dir), 'dockerd temp dir removed');
  });

  test('access log records the blob GETs made by the clients', async () => {
    const log = await dist.accessLog();
    const blobGets = log.filter((l) => l.method === 'GET' && l.status === 200 && l.path.startsWith('/v2/it/single/blobs/'));
    for (const layer of single.layers) {
      const hits = blobGets.filter((l) => l.path.endsWith(layer.digest));
      // skopeo, podman, ctr and dockerd each fetched it once.
      assert.ok(hits.length >= 4, `${layer.digest}: ${hits.length} GETs`);
    }
    const agents = new Set(blobGets.map((l) => l.userAgent.split('/')[0]));
    for (const a of ['containerd', 'docker']) assert.ok([...agents].some((x) => x?.startsWith(a)), `${a} in ${[...agents].join(',')}`);
  });

  test('referrer push: distribution 2.8 lacks the referrers API, so the fallback tag is maintained', async () => {
    const r = await pushReferrer(dist.url, 'it/single', single.manifestDigest, 'application/vnd.example.sbom.v1+json');
    assert.equal(r.usedFallbackTag, true);
    const tag = single.manifestDigest.replace(':', '-');
    const res = await fetch(`${dist.url}/v2/it/single/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    const idx = (await res.json()) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(idx.manifests.map((m) => [m.digest, m.artifactType]), [[r.digest, 'application/vnd.example.sbom.v1+json']]);
  });
});

describe('htpasswd-protected distribution', () => {
  const auth = { user: 'alice', password: 's3cret pass' };
  let dist: Distribution;
  before(async () => {
    dist = await startDistribution({ htpasswd: auth });
  });
  after(async () => {
    await dist?.stop();
  });

  test('anonymous is refused with a Basic challenge, credentials are accepted', async () => {
    const anon = await fetch(`${dist.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /^Basic realm="regway-test"/);
    const wrong = await fetch(`${dist.url}/v2/`, { headers: { authorization: 'Basic ' + Buffer.from('alice:nope').toString('base64') } });
    assert.equal(wrong.status, 401);
    const ok = await fetch(`${dist.url}/v2/`, { headers: { authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } });
    assert.equal(ok.status, 200);
  });

  test('push needs credentials; skopeo reads with them', async () => {
    await assert.rejects(pushImage(dist.url, 'p/img', 'v1', { layers: 1, layerSize: 1024 }), /401/);
    const img = await pushImage(dist.url, 'p/img', 'v1', { layers: 1, layerSize: 1024, auth });
    await assert.rejects(skopeoInspectDigest(`docker://${dist.host}/p/img:v1`), /unauthorized|authentication required|401/i);
    assert.equal(await skopeoInspectDigest(`docker://${dist.host}/p/img:v1`, { creds: auth }), img.manifestDigest);
    const log = await dist.accessLog();
    assert.ok(log.some((l) => l.status === 401) && log.some((l) => l.status === 201));
  });
});

// The gateway tests configure clients to use a mirror for docker.io. Prove that wiring with a
// distribution in proxy mode standing in for the gateway (no internet: docker.io itself is never
// reachable, so a pull only succeeds if the mirror is really used).
describe('docker.io mirror configuration of every client (distribution proxy as the mirror)', () => {
  let origin: Distribution;
  let proxy: Distribution;
  let img: PushedImage;
  before(async () => {
    origin = await startDistribution();
    img = await pushImage(origin.url, 'library/mirrored', 'v1', { layers: 1, layerSize: MB });
    proxy = await startDistribution({ proxy: { remoteurl: origin.url } });
  });
  after(async () => {
    await proxy?.stop();
    await origin?.stop();
  });

  test('skopeo and podman via registries.conf [[registry.mirror]]', async () => {
    const registriesConf = [
      'unqualified-search-registries = ["docker.io"]',
      '[[registry]]',
      'prefix = "docker.io"',
      'location = "docker.io"',
      '[[registry.mirror]]',
      `location = "${proxy.host}"`,
      'insecure = true',
      '',
    ].join('\n');
    assert.equal(await skopeoInspectDigest('docker://docker.io/library/mirrored:v1', { registriesConf }), img.manifestDigest);
    assert.equal(await podmanPull('docker.io/library/mirrored:v1', { registriesConf }), img.manifestDigest);
  });

  test('ctr via hosts.toml for docker.io', async () => {
    const c = await startContainerd();
    const hosts = makeTempDir('hosts');
    try {
      writeHostsToml(hosts, 'docker.io', { server: 'https://registry-1.docker.io', mirrors: [{ url: proxy.url }] });
      assert.equal(await ctrPull(c, 'docker.io/library/mirrored:v1', hosts), img.manifestDigest);
    } finally {
      removeTempDir(hosts);
      await c.stop();
    }
  });

  test('dockerd via registry-mirrors', async () => {
    const dk = await startDockerd({ registryMirrors: [proxy.url] });
    try {
      assert.equal(await dockerPull(dk, 'mirrored:v1'), img.manifestDigest);
    } finally {
      await dk.stop();
    }
    const viaProxy = (await proxy.accessLog()).filter((l) => l.path === `/v2/library/mirrored/blobs/${img.layers[0]!.digest}` && l.status === 200);
    assert.ok(viaProxy.length >= 3, `layer fetched through the proxy ${viaProxy.length} times`);
  });
});
