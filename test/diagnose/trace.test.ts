// `regway trace` checked against what the runtimes do with the same files: podman with the registries.conf, ctr with
// the certs.d hosts.toml tree, dockerd with the registry-mirrors. Two real registries play the mirrors: A has
// nothing, B has the image, so each runtime must ask A first (with the exact request trace predicted), fall through
// to B, and end with the digest trace found at B.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDistribution, type Distribution, type AccessLine } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { createPodman, ctrPull, dockerPull, startContainerd, startDockerd } from '../helpers/clients.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { formatTrace, trace, type RuntimeTrace } from '../../src/diagnose/trace/index.js';

let A: Distribution;
let B: Distribution;
let hub: PushedImage;
let team: PushedImage;
let root: string;
let registriesConf: string;
const IMAGE = 'docker.io/library/tracetest:1';
const TEAM = 'registry.example.test/team/app:1';

function put(path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

before(async () => {
  [A, B] = await Promise.all([startDistribution(), startDistribution()]);
  hub = await pushImage(B.url, 'library/tracetest', '1', { layers: 1, layerSize: 20_000 });
  team = await pushImage(B.url, 'team/app', '1', { layers: 1, layerSize: 20_000 });
  root = makeTempDir('trace-root');
  put('etc/docker/daemon.json', JSON.stringify({ 'registry-mirrors': [A.url, B.url] }));
  put(
    'etc/containerd/certs.d/docker.io/hosts.toml',
    `server = "https://registry-1.docker.io"\n[host."${A.url}"]\n  capabilities = ["pull", "resolve"]\n[host."${B.url}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  // A may serve blobs but not resolve tags; B is addressed with override_path; the server is a closed port.
  put(
    'etc/containerd/certs.d/registry.example.test/hosts.toml',
    `server = "http://127.0.0.1:1"\n[host."${A.url}"]\n  capabilities = ["pull"]\n[host."${B.url}/v2"]\n  capabilities = ["pull", "resolve"]\n  override_path = true\n`,
  );
  registriesConf = [
    '[[registry]]',
    'prefix = "docker.io"',
    'location = "registry-1.docker.io"',
    '[[registry.mirror]]',
    `location = "${A.host}"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${B.host}"`,
    'insecure = true',
    '[[registry]]',
    'prefix = "registry.example.test/team"',
    `location = "${B.host}/team"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${A.host}/mirror-ns"`,
    'insecure = true',
    '[[registry]]',
    'prefix = "blocked.example.test"',
    'location = "blocked.example.test"',
    'blocked = true',
    '',
  ].join('\n');
  put('etc/containers/registries.conf', registriesConf);
});
after(async () => {
  await Promise.all([A.stop(), B.stop()]);
  removeTempDir(root);
});

const rt = (r: { runtimes: RuntimeTrace[] }, n: string): RuntimeTrace => r.runtimes.find((t) => t.runtime === n)!;
const uris = (log: AccessLine[]): string[] => log.filter((l) => l.path.includes('/manifests/')).map((l) => l.uri);

test('resolution and probes: each runtime asks A, then B, which answers with the pushed digest', async () => {
  const r = await trace(IMAGE, { root });
  assert.deepEqual(
    rt(r, 'docker').endpoints.map((e) => `${e.url}${e.request}`),
    [`${A.url}/v2/library/tracetest/manifests/1`, `${B.url}/v2/library/tracetest/manifests/1`, 'https://registry-1.docker.io/v2/library/tracetest/manifests/1'],
  );
  assert.deepEqual(
    rt(r, 'containerd').endpoints.map((e) => `${e.url}${e.request}`),
    [`${A.url}/v2/library/tracetest/manifests/1?ns=docker.io`, `${B.url}/v2/library/tracetest/manifests/1?ns=docker.io`, 'https://registry-1.docker.io/v2/library/tracetest/manifests/1?ns=docker.io'],
  );
  assert.deepEqual(
    rt(r, 'podman').endpoints.map((e) => `${e.url}${e.request}`),
    [`https://${A.host}/v2/library/tracetest/manifests/1`, `https://${B.host}/v2/library/tracetest/manifests/1`, 'https://registry-1.docker.io/v2/library/tracetest/manifests/1'],
  );
  for (const t of r.runtimes) {
    assert.equal(t.answeredBy, 1, formatTrace(r));
    assert.equal(t.endpoints[0]!.probe?.status, 404);
    assert.equal(t.endpoints[1]!.probe?.digest, hub.manifestDigest);
    assert.equal(t.endpoints[2]!.probe, undefined, 'never reached');
  }
  assert.match(formatTrace(r), /=> podman gets the manifest from http:\/\/127\.0\.0\.1/);
});

test('rewriting and skipping: podman namespaces and prefixes, containerd capabilities and override_path, blocked', async () => {
  const r = await trace(TEAM, { root, runtimes: ['containerd', 'podman'] });
  const pod = rt(r, 'podman');
  assert.deepEqual(
    pod.endpoints.map((e) => e.request),
    ['/v2/mirror-ns/app/manifests/1', '/v2/team/app/manifests/1'],
  );
  assert.equal(pod.answeredBy, 1);
  const ctrd = rt(r, 'containerd');
  assert.match(ctrd.endpoints[0]!.skipped ?? '', /resolve/);
  assert.equal(ctrd.endpoints[1]!.request, '/v2/team/app/manifests/1?ns=registry.example.test');
  assert.equal(ctrd.answeredBy, 1);
  const blocked = await trace('blocked.example.test/x/y:1', { root, runtimes: ['podman'], probe: false });
  assert.match(rt(blocked, 'podman').endpoints[0]!.skipped ?? '', /blocked/);
  // What podman 4.3 itself refuses: a non-wildcard prefix without location.
  const bad = makeTempDir('trace-bad');
  try {
    mkdirSync(join(bad, 'etc/containers'), { recursive: true });
    writeFileSync(join(bad, 'etc/containers/registries.conf'), '[[registry]]\nprefix = "x.example.test"\nblocked = true\n');
    assert.match(rt(await trace('x.example.test/a:1', { root: bad, runtimes: ['podman'], probe: false }), 'podman').notes.join('\n'), /location is unset/);
  } finally {
    removeTempDir(bad);
  }
  const plain = await trace(`${B.host}/team/app:1`, { root, runtimes: ['docker'] });
  assert.deepEqual(
    rt(plain, 'docker').endpoints.map((e) => e.url),
    [`https://${B.host}`, `http://${B.host}`],
    'loopback is implicitly insecure for dockerd',
  );
  assert.equal(rt(plain, 'docker').answeredBy, 1);
});

test('podman, ctr and dockerd do what trace said', async () => {
  const predicted = await trace(IMAGE, { root });
  const predictedTeam = await trace(TEAM, { root, runtimes: ['containerd', 'podman'] });
  const [ctrd, dockerd] = await Promise.all([startContainerd(), startDockerd({ registryMirrors: [A.url, B.url] })]);
  const podman = createPodman({ registriesConf });
  try {
    for (const [name, pull] of [
      ['podman', () => podman.pull(IMAGE)],
      ['containerd', () => ctrPull(ctrd, IMAGE, join(root, 'etc/containerd/certs.d'))],
      ['docker', () => dockerPull(dockerd, 'tracetest:1')],
    ] as const) {
      const [a0, b0] = [(await A.accessLog()).length, (await B.accessLog()).length];
      const digest = await pull();
      const t = rt(predicted, name);
      assert.equal(digest, t.endpoints[1]!.probe?.digest, `${name} pulled what trace found at B`);
      const [aLog, bLog] = [(await A.accessLog()).slice(a0), (await B.accessLog()).slice(b0)];
      assert.ok(uris(aLog).includes(t.endpoints[0]!.request), `${name} asked A with ${t.endpoints[0]!.request}; A saw ${JSON.stringify(uris(aLog))}`);
      assert.ok(uris(bLog).includes(t.endpoints[1]!.request), `${name} asked B with ${t.endpoints[1]!.request}; B saw ${JSON.stringify(uris(bLog))}`);
    }
    // The rewritten team image: podman asks A under the mirror's namespace; ctr never asks A for the tag.
    for (const [name, pull] of [
      ['podman', () => podman.pull(TEAM)],
      ['containerd', () => ctrPull(ctrd, TEAM, join(root, 'etc/containerd/certs.d'))],
    ] as const) {
      const [a0, b0] = [(await A.accessLog()).length, (await B.accessLog()).length];
      assert.equal(await pull(), team.manifestDigest);
      const t = rt(predictedTeam, name);
      const [aLog, bLog] = [(await A.accessLog()).slice(a0), (await B.accessLog()).slice(b0)];
      const byTag = uris(aLog).filter((u) => /\/manifests\/1(\?|$)/.test(u));
      if (t.endpoints[0]!.skipped) assert.deepEqual(byTag, [], `${name} must not resolve the tag at A`);
      else assert.ok(byTag.includes(t.endpoints[0]!.request), `${name}: A saw ${JSON.stringify(uris(aLog))}`);
      assert.ok(uris(bLog).includes(t.endpoints[1]!.request), `${name}: B saw ${JSON.stringify(uris(bLog))}`);
    }
  } finally {
    podman.cleanup();
    await Promise.all([ctrd.stop(), dockerd.stop()]);
  }
});
