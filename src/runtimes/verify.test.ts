import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importSnapshot } from './import.js';
import { validateSpec } from './spec.js';
import type { NodeSnapshot } from './targets.js';
import { verifySnapshot } from './verify.js';

const spec = validateSpec({ targets: ['docker-daemon', 'docker-config', 'containerd', 'registries-conf', 'containers-auth'] });
const snap = (files: Record<string, string>, certs: Record<string, string | undefined> = {}, dropIns: string[] = []): NodeSnapshot => ({
  files: new Map(Object.entries(files)),
  certsDirs: new Map(Object.entries(certs)),
  dropIns,
});
const messages = (s: NodeSnapshot, level: string): string[] =>
  verifySnapshot(spec, s)
    .filter((f) => f.level === level)
    .map((f) => f.message);

test('verify: a hosts.toml that does not decode means containerd ignores every mirror', () => {
  const errs = messages(snap({}, { 'docker.io': '[host."https://m"]\n  capabilities = ["pull", "fetch"]\n', 'ghcr.io': 'server = "https://ghcr.io\n' }), 'error');
  assert.equal(errs.length, 2);
  for (const e of errs) assert.match(e, /ignores every mirror/);
});

test('verify: a hosts.toml with only server (no [host] table) is refused by containerd 1.6', () => {
  const errs = messages(snap({}, { '10.0.0.5:5000': 'server = "http://10.0.0.5:5000"\n' }), 'error');
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /has no \[host\] table: containerd 1\.6 fails to decode it/);
});

test('verify: v1 and v2 mixed, drop-in in v1, pull-from-mirror on a registry, conflicting insecure', () => {
  const errs = messages(
    snap(
      {
        '/etc/containers/registries.conf': '[registries.search]\nregistries = ["docker.io"]\n[[registry]]\nlocation = "a.io"\n',
        '/etc/containers/registries.conf.d/10-x.conf': '[registries.block]\nregistries = ["x.io"]\n',
        '/etc/containers/registries.conf.d/20-y.conf':
          '[[registry]]\nprefix = "b.io"\nlocation = "c.io"\npull-from-mirror = "all"\n[[registry]]\nprefix = "d.io"\nlocation = "c.io"\ninsecure = true\n',
      },
      {},
      ['10-x.conf', '20-y.conf'],
    ),
    'error',
  );
  assert.equal(errs.length, 4, errs.join('\n'));
  assert.match(errs[0]!, /mixing sysregistry v1\/v2/);
  assert.match(errs[1]!, /drop-ins must be v2/);
  assert.match(errs[2]!, /pull-from-mirror belongs on \[\[registry\.mirror\]\]/);
  assert.match(errs[3]!, /conflicting 'insecure'/);
});

test('verify: credsStore shadows auths, credentials in daemon.json, missing registry-mirrors key', () => {
  const s = snap({
    '/root/.docker/config.json': '{"auths":{"a.io":{"auth":"YTpi"}},"credsStore":"pass"}',
    '/etc/docker/daemon.json': '{"auths":{}}',
  });
  assert.ok(messages(s, 'warn').some((m) => /credsStore "pass": every registry's credentials come from docker-credential-pass/.test(m)));
  assert.ok(messages(s, 'warn').some((m) => /SIGHUP reload keeps whatever mirrors/.test(m)));
  assert.ok(messages(s, 'error').some((m) => /"auths" is not a daemon option/.test(m)));
});

test('verify: config.toml config_path', () => {
  const warn = (toml: string): string[] => messages(snap({ '/etc/containerd/config.toml': toml }), 'warn');
  assert.match(warn('version = 2\n')[0]!, /sets no registry config_path/);
  assert.match(warn('[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/elsewhere"\n')[0]!, /config_path is "\/elsewhere"/);
  assert.deepEqual(warn('[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/containerd/certs.d"\n'), []);
});

test('import: v1 registries.conf, hosts.toml, daemon.json and logins become a declarative file without secrets', () => {
  const r = importSnapshot(
    spec,
    snap(
      {
        '/etc/containers/registries.conf': '[registries.search]\nregistries = ["quay.io", "docker.io"]\n[registries.insecure]\nregistries = ["lab:5000"]\n',
        '/etc/docker/daemon.json': '{"registry-mirrors":["http://10.0.0.5:5000/"],"max-concurrent-downloads":7}',
        '/root/.docker/config.json': '{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="}}}',
      },
      { 'docker.io': 'server = "https://registry-1.docker.io"\n[host."http://10.0.0.5:5000"]\n  capabilities = ["pull"]\n' },
    ),
  );
  const text = JSON.stringify(r.spec);
  assert.doesNotMatch(text, /secret/);
  const parsed = validateSpec(r.spec);
  assert.deepEqual(parsed.unqualifiedSearchRegistries, ['quay.io', 'docker.io']);
  const hub = parsed.registries.find((x) => x.host === 'docker.io')!;
  assert.deepEqual(
    hub.mirrors.map((m) => [m.url, m.resolveTags]),
    [['http://10.0.0.5:5000', false]],
  );
  assert.deepEqual(hub.credentials, { username: 'hub', password: { env: 'REGWAY_PASSWORD_DOCKER_IO' } });
  assert.equal(parsed.registries.find((x) => x.host === 'lab:5000')?.insecure, true);
  assert.equal(parsed.docker.maxConcurrentDownloads, 7);
  assert.ok(r.warnings.some((w) => /is v1/.test(w)));
});

test('a gateway mirror: podman gets <gateway>/<registry>, containerd and dockerd the root; import reads it back', async () => {
  const { renderRegistriesConf } = await import('./render/registries-conf.js');
  const { renderHostsToml } = await import('./render/hosts-toml.js');
  const s = validateSpec({
    targets: ['containerd', 'registries-conf'],
    registries: [
      { host: 'ghcr.io', mirrors: [{ url: 'http://regway.internal:5000', gateway: true }] },
      { host: 'registry.example.com:5000', mirrors: [{ url: 'http://regway.internal:5000', gateway: true }, { url: 'https://plain.mirror' }] },
    ],
  });
  const conf = String(renderRegistriesConf(s, undefined).files[0]!.text);
  assert.match(conf, /prefix = "ghcr.io"\nlocation = "ghcr.io"\n\n\[\[registry\.mirror\]\]\nlocation = "regway.internal:5000\/ghcr.io"\ninsecure = true/);
  assert.match(conf, /location = "regway.internal:5000\/registry.example.com:5000"\ninsecure = true\n\n\[\[registry\.mirror\]\]\nlocation = "plain.mirror"/);
  const hosts = renderHostsToml(s, new Map(), undefined)
    .files.map((f) => f.text)
    .join('\n');
  assert.match(hosts, /\[host\."http:\/\/regway.internal:5000"\]/, 'containerd: the root (it sends ?ns=)');
  assert.doesNotMatch(hosts, /regway.internal:5000\/ghcr/);
  const back = importSnapshot(
    spec,
    snap(
      { '/etc/containers/registries.conf': conf },
      {
        'ghcr.io': 'server = "https://ghcr.io"\n[host."http://regway.internal:5000"]\n  capabilities = ["pull", "resolve"]\n',
      },
    ),
  );
  assert.equal(
    back.warnings.some((w) => /namespace path/.test(w)),
    false,
    back.warnings.join('\n'),
  );
  const ghcr = validateSpec(back.spec).registries.find((r) => r.host === 'ghcr.io')!;
  assert.deepEqual(
    ghcr.mirrors.map((m) => [m.url, m.gateway]),
    [['http://regway.internal:5000', true]],
  );
});
