// Proof with the real runtimes (Debian packages podman, skopeo, containerd/ctr, docker.io, docker-registry, kubectl):
// files rendered by `regway config apply` into a temporary --root are handed to each runtime, which must accept them
// and pull through the mirror they name. There is no internet here, so a pull that succeeds came through the mirror.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { applyCommand } from '../../src/runtimes/commands.js';
import { htpasswdLine, pushImage, startRegistry, type Registry } from './registry.js';
import { startGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const USER = 'alice';
const PASSWORD = 's3:cr&t <"pw">';
let mirror: Registry;
let secured: Registry;
const children: ChildProcess[] = [];

before(async () => {
  mirror = await startRegistry();
  secured = await startRegistry({ htpasswd: htpasswdLine(USER, PASSWORD) });
  for (const name of ['podmanimg', 'ctrimg', 'dockerimg']) await pushImage(mirror, `library/${name}`, 'latest');
  await pushImage(secured, 'team/app', 'v1', { username: USER, password: PASSWORD });
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all([mirror?.stop(), secured?.stop()]);
});

/** Writes the declarative file and runs `regway config apply` on a fresh --root. */
async function apply(yaml: string, root = mkdtempSync(join(tmpdir(), 'regway-root-')), reload = false): Promise<string> {
  const file = join(root, '..', `${root.split('/').pop()}.yaml`);
  writeFileSync(file, yaml);
  await applyCommand({ root, file, reload, sources: { env: { PW: PASSWORD }, readFile: (p) => readFileSync(p, 'utf8') } });
  return root;
}

function sh(cmd: string, args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function shAsync(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, timeout: 120000 });
    let out = '';
    c.stdout.on('data', (b) => { out += b; });
    c.stderr.on('data', (b) => { out += b; });
    c.on('close', (status) => resolve({ status, out }));
  });
}

/** The registry's log arrives over a pipe, read only while the event loop runs (spawnSync blocks it): wait for it. */
async function assertLogged(reg: Registry, re: RegExp): Promise<void> {
  await waitFor(() => re.test(reg.log()), `a request matching ${re} in the registry log`, 5000, { seen: () => reg.log() });
}

const mirrorSpec = (targets: string, extra = ''): string =>
  `targets: [${targets}]\nregistries:\n  - host: docker.io\n    mirrors:\n      - url: ${mirror.url}\n${extra}`;

test('podman accepts the rendered registries.conf and pulls through its mirror; blocked registries are refused', async () => {
  const root = await apply(mirrorSpec('registries-conf', 'blockedRegistries: [evil.example.com]\nunqualifiedSearchRegistries: [docker.io]\n'));
  const conf = join(root, 'etc/containers/registries.conf');
  const d = mkdtempSync(join(tmpdir(), 'regway-podman-'));
  const podman = ['--root', join(d, 'root'), '--runroot', join(d, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
  const env = { CONTAINERS_REGISTRIES_CONF: conf };
  const info = sh('podman', [...podman, '--log-level=debug', 'info'], env);
  assert.equal(info.status, 0, info.out);
  assert.doesNotMatch(info.out, /Failed to decode keys/, 'podman ignored keys regway wrote');
  const pull = sh('podman', [...podman, 'pull', 'podmanimg'], env);
  assert.equal(pull.status, 0, pull.out);
  await assertLogged(mirror, /GET \/v2\/library\/podmanimg\/manifests\/latest/);
  const blocked = sh('podman', [...podman, 'pull', 'evil.example.com/x:1'], env);
  assert.notEqual(blocked.status, 0);
  assert.match(blocked.out, /blocked/);
});

test('podman pulls another registry through a regway gateway mirror (<gateway>/<registry> location)', async () => {
  // regway serves registry.team.test (which does not resolve here) from the distribution: a pull that
  // succeeds went through the gateway, addressed by the registry host as the first path segment.
  const gw = await startGateway({ registries: { 'registry.team.test': [mirror.url] } });
  try {
    const root = await apply(`targets: [registries-conf]\nregistries:\n  - host: registry.team.test\n    mirrors:\n      - url: ${gw.url}\n        gateway: true\n`);
    const conf = join(root, 'etc/containers/registries.conf');
    assert.match(readFileSync(conf, 'utf8'), new RegExp(`location = "${gw.host}/registry.team.test"`));
    const d = mkdtempSync(join(tmpdir(), 'regway-podman-'));
    const podman = ['--root', join(d, 'root'), '--runroot', join(d, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
    // Not spawnSync: the gateway runs in this process and must keep serving while podman pulls.
    const pull = await shAsync('podman', [...podman, 'pull', 'registry.team.test/library/podmanimg:latest'], { CONTAINERS_REGISTRIES_CONF: conf });
    assert.equal(pull.status, 0, pull.out);
    await assertLogged(mirror, /GET \/v2\/library\/podmanimg\/manifests\/latest/);
    const pulled = sh('podman', [...podman, 'image', 'exists', 'registry.team.test/library/podmanimg:latest']);
    assert.equal(pulled.status, 0, 'the image is stored under its own name');
  } finally {
    await gw.stop();
  }
});

test('ctr pulls through the rendered hosts.toml, and the mirror sees ns=docker.io', async () => {
  const root = await apply(mirrorSpec('containerd'));
  const d = mkdtempSync(join(tmpdir(), 'regway-ctd-'));
  const sock = join(d, 'containerd.sock');
  writeFileSync(join(d, 'config.toml'), `version = 2\nroot = "${d}/root"\nstate = "${d}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${sock}"\n`);
  const ctd = spawn('containerd', ['--config', join(d, 'config.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(ctd);
  let log = '';
  ctd.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  await waitFor(() => sh('ctr', ['-a', sock, 'version']).status === 0, 'containerd to answer `ctr version`', 20_000, { seen: () => log });
  const pull = sh('ctr', ['-a', sock, 'images', 'pull', '--hosts-dir', join(root, 'etc/containerd/certs.d'), 'docker.io/library/ctrimg:latest']);
  assert.equal(pull.status, 0, pull.out + log);
  await assertLogged(mirror, /\/v2\/library\/ctrimg\/manifests\/latest\?ns=docker\.io/);
  assert.doesNotMatch(log, /failed to decode/);
  ctd.kill('SIGTERM');
});

test('dockerd pulls docker.io images through the mirror after apply --reload (SIGHUP), and docker logs in with config.json', async () => {
  // Start from a spec without mirrors: the pull must fail (no internet), proving the later success is the mirror.
  const root = await apply('targets: [docker-daemon]\n');
  const d = mkdtempSync(join(tmpdir(), 'regway-dk-'));
  const sock = join(d, 'docker.sock');
  const dockerd = spawn('dockerd', ['--iptables=false', '--bridge=none', '--storage-driver=vfs', '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'),
    '--pidfile', join(root, 'var/run/docker.pid'), '-H', `unix://${sock}`, '--config-file', join(root, 'etc/docker/daemon.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(dockerd);
  let log = '';
  dockerd.stderr?.on('data', (b: Buffer) => { log += b.toString(); });
  dockerd.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
  const docker = (...a: string[]): { status: number | null; out: string } => sh('docker', ['-H', `unix://${sock}`, ...a]);
  await waitFor(() => docker('version').status === 0, 'dockerd to answer `docker version`', 60_000, { seen: () => log });
  assert.notEqual(docker('pull', 'dockerimg:latest').status, 0, 'pulled without a mirror?');

  await apply(mirrorSpec('docker-daemon, docker-config', `  - host: ${secured.host}\n    credentials: {username: ${USER}, password: {env: PW}}\ndocker: {maxConcurrentDownloads: 2}\n`), root, true);
  await waitFor(() => /Reloaded configuration/.test(log), 'dockerd to reload its configuration', 20_000, { seen: () => log });
  const pull = docker('pull', 'dockerimg:latest');
  assert.equal(pull.status, 0, pull.out + log);
  await assertLogged(mirror, /"(HEAD|GET) \/v2\/library\/dockerimg\/manifests\/latest/);

  const cfg = join(root, 'root/.docker');
  assert.notEqual(docker('pull', `${secured.host}/team/app:v1`).status, 0, 'the secured registry answered without credentials');
  const authed = sh('docker', ['--config', cfg, '-H', `unix://${sock}`, 'pull', `${secured.host}/team/app:v1`]);
  assert.equal(authed.status, 0, authed.out);
  assert.doesNotMatch(authed.out, /Error loading config file/);
  dockerd.kill('SIGTERM');
  await new Promise((r) => dockerd.once('exit', r));
});

test('skopeo and podman authenticate to an htpasswd registry with the rendered auth.json and config.json', async () => {
  const root = await apply(`targets: [containers-auth, docker-config, registries-conf]\nregistries:\n  - host: ${secured.host}\n    insecure: true\n    credentials: {username: ${USER}, password: {env: PW}}\n`);
  const ref = `docker://${secured.host}/team/app:v1`;
  const anon = sh('skopeo', ['inspect', '--no-creds', '--tls-verify=false', ref]);
  assert.notEqual(anon.status, 0);
  assert.match(anon.out, /unauthorized|authentication required/i);
  for (const authfile of [join(root, 'root/.config/containers/auth.json'), join(root, 'root/.docker/config.json')]) {
    const r = sh('skopeo', ['inspect', '--authfile', authfile, '--tls-verify=false', ref]);
    assert.equal(r.status, 0, `${authfile}: ${r.out}`);
  }
  const d = mkdtempSync(join(tmpdir(), 'regway-podman-'));
  // No --tls-verify flag: the rendered registries.conf marks the registry insecure.
  const pull = sh('podman', ['--root', join(d, 'root'), '--runroot', join(d, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none',
    'pull', '--authfile', join(root, 'root/.config/containers/auth.json'), `${secured.host}/team/app:v1`], { CONTAINERS_REGISTRIES_CONF: join(root, 'etc/containers/registries.conf') });
  assert.equal(pull.status, 0, pull.out);
  const login = sh('podman', ['login', '--get-login', '--authfile', join(root, 'root/.config/containers/auth.json'), secured.host]);
  assert.equal(login.out.trim(), USER);
});

test('the rendered Secret is byte for byte what kubectl create secret docker-registry prints', async () => {
  const cases: Array<{ host: string; server?: string; ns?: string; password: string }> = [
    { host: 'registry.example.com:5000', server: 'registry.example.com:5000', password: PASSWORD },
    { host: 'docker.io', ns: 'ci-builds', password: 'p\\w "q" ü & <x> ' + 'long'.repeat(40) },
  ];
  for (const c of cases) {
    const ns = c.ns ? `kubernetes: {namespace: ${c.ns}}\n` : '';
    const root = mkdtempSync(join(tmpdir(), 'regway-k8s-'));
    const file = join(root, 'spec.yaml');
    writeFileSync(file, `targets: [kubernetes]\nregistries:\n  - host: ${c.host}\n    credentials: {username: ${USER}, password: {env: PW}}\n${ns}`);
    await applyCommand({ root, file, reload: false, sources: { env: { PW: c.password }, readFile: () => '' } });
    const args = ['create', 'secret', 'docker-registry', 'regcred', `--docker-username=${USER}`, `--docker-password=${c.password}`, '--dry-run=client', '-o', 'yaml'];
    if (c.server) args.push(`--docker-server=${c.server}`);
    if (c.ns) args.push('-n', c.ns);
    const k = spawnSync('kubectl', args, { encoding: 'utf8' });
    assert.equal(k.status, 0, k.stderr);
    assert.equal(readFileSync(join(root, 'etc/regway/kubernetes/pull-secret.yaml'), 'utf8'), k.stdout);
  }
});
