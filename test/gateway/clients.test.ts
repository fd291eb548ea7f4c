// Real clients pull through regway from a real upstream (CNCF distribution); digests pulled must
// equal digests pushed. Each client reaches the gateway the way it does in production:
// skopeo by host-prefixed path, podman through a registries.conf mirror, containerd through
// hosts.toml (sending ?ns=), dockerd through registry-mirrors (Docker Hub only, no ns).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, type PushedImage, type PushedIndex } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { skopeoCopy, ociLayoutDigest, podmanPull, startContainerd, writeHostsToml, ctrPull, startDockerd, dockerPull, type Containerd } from '../helpers/clients.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';

const MB = 1024 * 1024;
// A registry name that resolves nowhere: a pull can only succeed through the gateway.
const PRIVATE = 'registry.example.com';

describe('real clients through the gateway', () => {
  let up: Distribution;
  let gw: TestGateway;
  let app: PushedImage;
  let multi: PushedIndex;
  let hello: PushedImage;
  let tmp: string;

  before(async () => {
    up = await startDistribution();
    app = await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 3 * MB });
    multi = await pushIndex(up.url, 'team/multi', 'v1', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], { layers: 2, layerSize: 2 * MB });
    // Docker formats too: dockerd pulls this one (skopeo would convert Docker types for an oci: layout).
    hello = await pushImage(up.url, 'library/hello', 'v1', { layers: 2, layerSize: 2 * MB, format: 'docker' });
    gw = await startGateway({ registries: { [PRIVATE]: [up.url], 'docker.io': [up.url] } });
    tmp = makeTempDir('clients');
  });
  after(async () => { await gw?.stop(); await up?.stop(); if (tmp) removeTempDir(tmp); });

  it('skopeo copy, single image and --multi-arch all', async () => {
    const r1 = await skopeoCopy(`docker://${gw.host}/${PRIVATE}/team/app:v1`, `oci:${join(tmp, 'sk1')}:v1`);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'sk1'), 'v1'), app.manifestDigest);
    const r2 = await skopeoCopy(`docker://${gw.host}/${PRIVATE}/team/multi:v1`, `oci:${join(tmp, 'sk2')}:v1`, { multiArch: 'all' });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'sk2'), 'v1'), multi.digest);
  });

  it('podman pull through a registries.conf mirror', async () => {
    const registriesConf = [
      '[[registry]]', `prefix = "${PRIVATE}"`, `location = "${PRIVATE}"`,
      '[[registry.mirror]]', `location = "${gw.host}/${PRIVATE}"`, 'insecure = true', '',
    ].join('\n');
    assert.equal(await podmanPull(`${PRIVATE}/team/app:v1`, { registriesConf }), app.manifestDigest);
    assert.equal(await podmanPull(`${PRIVATE}/team/multi:v1`, { registriesConf }), multi.digest);
  });

  describe('containerd', () => {
    let c: Containerd;
    before(async () => { c = await startContainerd(); });
    after(async () => { await c?.stop(); });

    it('ctr images pull --hosts-dir: the mirror gets ?ns= and serves every registry', async () => {
      const hosts = join(tmp, 'certs.d');
      // server points nowhere: only the mirror can answer.
      writeHostsToml(hosts, 'docker.io', { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
      writeHostsToml(hosts, PRIVATE, { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
      assert.equal(await ctrPull(c, 'docker.io/library/hello:v1', hosts), hello.manifestDigest);
      assert.equal(await ctrPull(c, `${PRIVATE}/team/multi:v1`, hosts, { allPlatforms: true }), multi.digest);
    });
  });

  it('docker pull via dockerd registry-mirrors (Docker Hub names, library/ added)', async () => {
    const d = await startDockerd({ registryMirrors: [gw.url] });
    try {
      assert.equal(await dockerPull(d, 'hello:v1'), hello.manifestDigest);
    } finally { await d.stop(); }
  });

  it('the upstream served each blob once across all these clients', async () => {
    const log = await up.accessLog();
    const blobGets = log.filter((l) => l.method === 'GET' && l.path.includes('/blobs/sha256:'));
    const counts = new Map<string, number>();
    for (const l of blobGets) counts.set(l.path.slice(l.path.lastIndexOf('/') + 1), (counts.get(l.path.slice(l.path.lastIndexOf('/') + 1)) ?? 0) + 1);
    const dup = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(dup, [], 'no blob fetched twice from the upstream');
    assert.ok(counts.size >= 2 + 2 + 2, `expected many distinct blobs, saw ${counts.size}`);
  });
});
