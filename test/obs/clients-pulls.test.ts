// "An image pull is counted once": real clients pull a multi-platform image through the gateway,
// each with its own request pattern (containerd HEADs the tag then GETs by digest; dockerd, podman
// and skopeo GET the tag then the child manifest), and each pull must add exactly one image-pull
// audit line, one regway_pulls_total and one SLO pull.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushIndex, type PushedIndex } from '../helpers/images.js';
import { skopeoCopy, ociLayoutDigest, podmanPull, startContainerd, writeHostsToml, ctrPull, startDockerd, dockerPull, type Containerd } from '../helpers/clients.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import type { SloReport } from '../../src/obs/slo.js';
import { startObsGateway, auditLines, origin, type ObsGateway } from './setup.js';
import { waitFor } from '../helpers/wait.js';

const PRIVATE = 'registry.example.com';
const PLATFORMS = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }];

describe('each real client pull counts exactly once', () => {
  let up: Distribution;
  let gw: ObsGateway;
  let img: PushedIndex;
  let hub: PushedIndex;
  let tmp: string;
  let seen = 0;

  before(async () => {
    up = await startDistribution();
    img = await pushIndex(up.url, 'team/multi', 'v1', PLATFORMS, { layers: 2, layerSize: 64 * 1024 });
    hub = await pushIndex(up.url, 'library/hello', 'v1', PLATFORMS, { layers: 2, layerSize: 64 * 1024, format: 'docker' });
    gw = await startObsGateway({ [PRIVATE]: origin(up.url), 'docker.io': origin(up.url) });
    tmp = makeTempDir('obs-clients');
  });
  after(async () => { await gw?.stop(); await up?.stop(); if (tmp) removeTempDir(tmp); });

  /**
   * Pull lines added since the last call. The client has finished; its events are recorded as its
   * responses end and the file is written a tick later: wait for a new pull line, with the file
   * holding every line audited so far (so a second pull line, if any, is in it too).
   */
  async function newPulls(): Promise<Record<string, any>[]> {
    const pulls = await waitFor(() => {
      const all = auditLines(gw.auditPath);
      const p = all.filter((l) => l.event.action === 'image-pull');
      return p.length > seen && all.length === gw.obs.audit.lines && p;
    }, 'a new image-pull line in the audit file', 10_000, { seen: () => `${auditLines(gw.auditPath).length} lines in the file, ${gw.obs.audit.lines} audited, ${seen} pulls before` });
    const added = pulls.slice(seen);
    seen = pulls.length;
    return added;
  }
  const methods = (from: number) => auditLines(gw.auditPath).slice(from).filter((l) => l.regway?.operation === 'manifest').map((l) => `${l.http.request.method} ${l.regway.reference.slice(0, 12)}`);

  it('skopeo copy --multi-arch all (GET tag, GET every child)', async (t) => {
    const start = auditLines(gw.auditPath).length;
    const r = await skopeoCopy(`docker://${gw.host}/${PRIVATE}/team/multi:v1`, `oci:${join(tmp, 'sk')}:v1`, { multiArch: 'all' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ociLayoutDigest(join(tmp, 'sk'), 'v1'), img.digest);
    const p = await newPulls();
    t.diagnostic(`skopeo: ${methods(start).join(', ')}`);
    assert.equal(p.length, 1, methods(start).join(', '));
    assert.match(p[0]!.user_agent.original, /containers|skopeo/i);
    assert.deepEqual(p[0]!.container.image.tag, ['v1']);
  });

  it('podman pull through a registries.conf mirror', async (t) => {
    const start = auditLines(gw.auditPath).length;
    const registriesConf = ['[[registry]]', `prefix = "${PRIVATE}"`, `location = "${PRIVATE}"`, '[[registry.mirror]]', `location = "${gw.host}/${PRIVATE}"`, 'insecure = true', ''].join('\n');
    assert.equal(await podmanPull(`${PRIVATE}/team/multi:v1`, { registriesConf }), img.digest);
    const p = await newPulls();
    t.diagnostic(`podman: ${methods(start).join(', ')}`);
    assert.equal(p.length, 1, methods(start).join(', '));
    assert.match(p[0]!.user_agent.original, /containers|podman|libpod/i);
  });

  describe('containerd', () => {
    let c: Containerd;
    before(async () => { c = await startContainerd(); });
    after(async () => { await c?.stop(); });

    it('ctr images pull (HEAD tag, GET index by digest, GET child), then a re-pull by digest (a lone HEAD)', async (t) => {
      const hosts = join(tmp, 'certs.d');
      writeHostsToml(hosts, PRIVATE, { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
      let start = auditLines(gw.auditPath).length;
      assert.equal(await ctrPull(c, `${PRIVATE}/team/multi:v1`, hosts), img.digest);
      const manifestRequests = methods(start);
      let p = await newPulls();
      t.diagnostic(`ctr: ${manifestRequests.join(', ')}`);
      assert.equal(p.length, 1, manifestRequests.join(', '));
      assert.ok(manifestRequests.some((m) => m.startsWith('HEAD v1')), `containerd resolves with HEAD: ${manifestRequests.join(', ')}`);
      assert.match(p[0]!.user_agent.original, /containerd/);
      start = auditLines(gw.auditPath).length;
      assert.equal(await ctrPull(c, `${PRIVATE}/team/multi@${img.digest}`, hosts), img.digest);
      p = await newPulls();
      t.diagnostic(`ctr re-pull by digest: ${methods(start).join(', ')}`);
      assert.equal(p.length, 1, methods(start).join(', '));
      assert.deepEqual(p[0]!.container.image.hash.all, [img.digest]);
    });
  });

  it('docker pull via dockerd registry-mirrors', async (t) => {
    const start = auditLines(gw.auditPath).length;
    const d = await startDockerd({ registryMirrors: [gw.url] });
    try {
      assert.equal(await dockerPull(d, 'hello:v1'), hub.digest);
    } finally { await d.stop(); }
    const p = await newPulls();
    t.diagnostic(`dockerd: ${methods(start).join(', ')}`);
    assert.equal(p.length, 1, methods(start).join(', '));
    assert.match(p[0]!.user_agent.original, /docker/i);
    assert.equal(p[0]!.container.image.name, 'docker.io/library/hello');
  });

  it('the metrics and the SLO agree with the audit log', async () => {
    const m = await (await fetch(`${gw.url}/metrics`)).text();
    const pulls = [...m.matchAll(/^regway_pulls_total\{[^}]*\} (\d+)$/gm)].reduce((s, x) => s + Number(x[1]), 0);
    assert.equal(pulls, seen);
    const slo = await (await fetch(`${gw.url}/-/slo`)).json() as SloReport;
    assert.equal(slo.windows[0]!.pulls, seen);
    assert.equal(seen, 5, 'skopeo, podman, ctr by tag, ctr by digest, docker');
  });
});
