// The Ansible collection deploy/ansible (module regway.node.regway_config, role regway.node.node) run by
// Debian's ansible-playbook against localhost, with everything the role touches in a sandbox: regway is
// installed from the project's own npm package (npm pack) under a private prefix, the node's files live
// under a --root directory, and a real dockerd (private) reads that tree's daemon.json and pid file, so
// the role's handler reloads a real daemon. The playbook is the shipped example (playbooks/node.yml):
// mirrors in daemon.json, credentials in config.json/auth.json by reference.
// Proven: check mode changes nothing; the first run reports changed, installs, writes, reloads dockerd
// once; the second run is changed=0 and reloads nothing; --check --diff shows regway's diff; a change
// that does not touch daemon.json does not reload dockerd; a bad declarative file fails the task with
// the field named. And the seed's way (credentials as "auths" in daemon.json) fails on a real dockerd.
// The tests run in order on the one sandboxed node (each starts from the state the previous one left).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDockerd, type Dockerd } from '../helpers/clients.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { makeTempDir, removeTempDir, run, type RunResult } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ANSIBLE = join(ROOT, 'deploy/ansible');
const USER = { user: 'ci-bot', password: 's3cret' };

let box: string;
let root: string;
let tarball: string;
let reg: Distribution;
let dockerd: Dockerd;

before(async () => {
  box = makeTempDir('ansible');
  root = join(box, 'root');
  mkdirSync(join(root, 'etc/docker'), { recursive: true });
  mkdirSync(join(root, 'var/run'), { recursive: true });
  // The node's daemon.json before regway: a key regway does not manage, which must survive.
  writeFileSync(join(root, 'etc/docker/daemon.json'), '{\n  "max-concurrent-uploads": 3\n}\n');
  const pack = run('npm', ['pack', '--pack-destination', box], { cwd: ROOT, timeoutMs: 10 * 60_000 });
  [reg, dockerd] = await Promise.all([
    startDistribution({ htpasswd: USER }),
    startDockerd({ configFile: join(root, 'etc/docker/daemon.json'), pidFile: join(root, 'var/run/docker.pid') }),
  ]);
  await pushImage(reg.url, 'team/app', 'v1', { layers: 1, layerSize: 512, auth: USER });
  const p = await pack;
  assert.equal(p.code, 0, p.stderr);
  tarball = join(box, readdirSync(box).find((f) => f.endsWith('.tgz'))!);
});

after(async () => {
  await Promise.allSettled([dockerd?.stop(), reg?.stop()]);
  if (box) removeTempDir(box);
});

function vars(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ansible_become: false,
    regway_package: tarball,
    regway_package_dir: join(box, 'pkg'),
    regway_npm_prefix: join(box, 'prefix'),
    regway_npm_install_args: ['--no-audit', '--no-fund', '--prefer-offline'],
    regway_config_file: join(box, 'regway-config.yaml'),
    regway_root: root,
    regway_docker_reload: 'signal',
    vault_registry_password: USER.password,
    regway_config: {
      version: 1,
      targets: ['docker-daemon', 'docker-config', 'containerd', 'registries-conf', 'containers-auth'],
      registries: [
        { host: 'docker.io', mirrors: [{ url: 'https://mirror.example.internal' }] },
        { host: reg.host, credentials: { username: USER.user, password: { env: 'REGISTRY_PASSWORD' } } },
      ],
    },
    ...overrides,
  };
}

interface Play extends RunResult { changed: number; failed: number; out: string }

async function playbook(extra: Record<string, unknown>, flags: string[] = []): Promise<Play> {
  const inventory = join(box, 'inventory.ini');
  writeFileSync(inventory, '[nodes]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  const varsFile = join(box, 'vars.json');
  writeFileSync(varsFile, JSON.stringify(extra));
  const r = await run('ansible-playbook', ['-i', inventory, 'playbooks/node.yml', '-e', `@${varsFile}`, ...flags], {
    cwd: ANSIBLE, timeoutMs: 10 * 60_000,
    env: {
      ...process.env, ANSIBLE_COLLECTIONS_PATH: join(ANSIBLE, 'collections'), ANSIBLE_HOME: join(box, 'ansible-home'),
      ANSIBLE_LOCAL_TEMP: join(box, 'ansible-tmp'), ANSIBLE_REMOTE_TMP: join(box, 'ansible-tmp'), ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0',
    },
  });
  const recap = /localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(r.stdout);
  return { ...r, changed: Number(recap?.[1] ?? -1), failed: Number(recap?.[2] ?? -1), out: r.stdout + r.stderr };
}

const daemonJson = (): string => readFileSync(join(root, 'etc/docker/daemon.json'), 'utf8');
const reloads = (): number => (readFileSync(dockerd.logFile, 'utf8').match(/Reloaded configuration/g) ?? []).length;
async function mirrors(): Promise<string[]> {
  const r = await dockerd.docker(['info', '--format', '{{json .RegistryConfig.Mirrors}}']);
  return JSON.parse(r.stdout) as string[];
}

test('the regway.node role: check mode changes nothing, the first run installs and applies, the second changes nothing; dockerd reloaded only for daemon.json', async () => {
  const original = daemonJson();
  // 1. --check on a fresh node: reports what it would do, touches nothing (no package, no regway, no files).
  const check = await playbook(vars(), ['--check', '--diff']);
  assert.equal(check.code, 0, check.out);
  assert.ok(check.changed > 0, check.out);
  assert.equal(daemonJson(), original);
  assert.deepEqual([existsSync(join(box, 'prefix/bin/regway')), existsSync(join(root, 'root/.docker/config.json')), existsSync(join(box, 'regway-config.yaml'))], [false, false, false]);

  // 2. The first run: installs regway from the package, writes the files, the handler reloads dockerd once.
  const first = await playbook(vars());
  assert.equal(first.code, 0, first.out);
  assert.ok(first.changed >= 4, first.out);
  assert.match(first.out, /RUNNING HANDLER \[regway\.node\.node : regway reload dockerd by signal\]/);
  const daemon = JSON.parse(daemonJson()) as Record<string, unknown>;
  assert.deepEqual(daemon, { 'max-concurrent-uploads': 3, 'registry-mirrors': ['https://mirror.example.internal'], 'insecure-registries': [] });
  await waitFor(() => reloads() === 1, 'dockerd to reload', 30_000, { seen: () => `${reloads()} reloads` });
  assert.deepEqual(await mirrors(), ['https://mirror.example.internal/'], 'dockerd runs with the new mirror');
  // Credentials went to the clients' files: the docker CLI pulls with them, podman's auth.json has them.
  const auth = JSON.parse(readFileSync(join(root, 'root/.docker/config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(auth.auths[reg.host]!.auth, 'base64').toString(), `${USER.user}:${USER.password}`);
  assert.ok(JSON.parse(readFileSync(join(root, 'root/.config/containers/auth.json'), 'utf8')).auths[reg.host]);
  const anonymous = await dockerd.docker(['pull', `${reg.host}/team/app:v1`]);
  assert.notEqual(anonymous.code, 0, 'the registry requires a login');
  const pulled = await dockerd.docker(['--config', join(root, 'root/.docker'), 'pull', `${reg.host}/team/app:v1`]);
  assert.equal(pulled.code, 0, pulled.stderr);

  // 3. The second run: nothing to do, nothing reloaded.
  const second = await playbook(vars());
  assert.equal(second.code, 0, second.out);
  assert.equal(second.changed, 0, second.out);
  assert.doesNotMatch(second.out, /RUNNING HANDLER/);

  // 4. --check --diff of a new mirror: regway's diff in the output, daemon.json untouched.
  const withSecond = vars({ regway_config: { ...(vars().regway_config as object), registries: [
    { host: 'docker.io', mirrors: [{ url: 'https://mirror.example.internal' }, { url: 'https://mirror2.example.internal' }] },
    { host: reg.host, credentials: { username: USER.user, password: { env: 'REGISTRY_PASSWORD' } } },
  ] } });
  const before = daemonJson();
  const diff = await playbook(withSecond, ['--check', '--diff']);
  assert.equal(diff.code, 0, diff.out);
  assert.match(diff.out, /# update \/etc\/docker\/daemon\.json \(docker-daemon\)/);
  assert.match(diff.out, /^\+\s+"https:\/\/mirror2\.example\.internal"/m);
  assert.equal(daemonJson(), before);
  assert.equal(reloads(), 1);

  // 5. A new password changes config.json and auth.json, not daemon.json: changed, but no reload.
  const rotated = await playbook(vars({ vault_registry_password: 'n3w-secret' }));
  assert.equal(rotated.code, 0, rotated.out);
  assert.equal(rotated.changed, 1, rotated.out);
  assert.match(rotated.out, /RUNNING HANDLER \[regway\.node\.node : regway reload dockerd by signal\][^\n]*\nskipping/);
  assert.equal(reloads(), 1);
  assert.doesNotMatch(rotated.out, /n3w-secret/, 'the password is not printed');
});

test('a bad declarative file fails the regway task with the field named, and writes nothing', async () => {
  const before = daemonJson();
  const declared = readFileSync(join(box, 'regway-config.yaml'), 'utf8');
  const bad = await playbook(vars({ regway_config: { registries: [{ host: 'docker.io', mirrors: [{ url: 'https://mirror.example.internal/v2/' }] }] } }));
  assert.notEqual(bad.code, 0);
  assert.equal(bad.failed, 1, bad.out);
  assert.match(bad.out, /TASK \[regway\.node\.node : Registry settings applied by regway\][\s\S]*fatal: \[localhost\]: FAILED!/);
  assert.match(bad.out, /registries\.0\.mirrors\.0\.url: must be the root of the mirror, with no path/);
  assert.equal(daemonJson(), before);
  assert.equal(readFileSync(join(box, 'regway-config.yaml'), 'utf8'), declared, 'the node keeps its last good declarative file');
});

test('the seed\'s way, credentials as "auths" in daemon.json: a real dockerd refuses the file on reload and keeps its old settings', async () => {
  const good = JSON.parse(daemonJson()) as Record<string, unknown>;
  writeFileSync(join(root, 'etc/docker/daemon.json'), JSON.stringify({ ...good, 'registry-mirrors': ['https://other.example.internal'],
    auths: { [reg.host]: { auth: Buffer.from(`${USER.user}:${USER.password}`).toString('base64') } } }, null, 2));
  const pid = Number(readFileSync(join(root, 'var/run/docker.pid'), 'utf8'));
  process.kill(pid, 'SIGHUP');
  await waitFor(() => /the following directives don't match any configuration option: 127\.0\.0\.1:\d+/.test(readFileSync(dockerd.logFile, 'utf8')), 'dockerd to reject daemon.json', 30_000, { seen: () => readFileSync(dockerd.logFile, 'utf8').slice(-1500) });
  assert.deepEqual(await mirrors(), ['https://mirror.example.internal/'], 'the reload failed: the old mirror is still in use');
  // regway leaves the key (it is not regway's) but says what is wrong, in the play output too.
  const warned = await playbook(vars());
  assert.equal(warned.code, 0, warned.out);
  assert.match(warned.out.replace(/\s+/g, ' '), /\[WARNING\]: regway \(docker-daemon\): \/etc\/docker\/daemon\.json contains "auths": dockerd refuses to start with it/);
});
