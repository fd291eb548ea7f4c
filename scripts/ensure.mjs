#!/usr/bin/env node
// Makes a fresh checkout runnable: `npm start` and `npm test` call this first, so the README's two
// commands are all a new machine needs. Only Node built-ins here: it runs before node_modules exists.
//   build : npm dependencies + compiled dist/
//   test  : build + the Debian packages the integration tests drive (installed when root)
//   bench : test + the benchmark peers (nginx, wrk, hey)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] ?? 'build';
const log = (m) => process.stderr.write(`[ensure] ${m}\n`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}
function newestUnder(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : mtime(p));
  }
  return newest;
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (mtime(marker) >= mtime(join(root, 'package-lock.json')) && existsSync(join(root, 'node_modules', 'fastify'))) return;
  log('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function ensureBuild() {
  const out = join(root, 'dist', 'cli', 'main.js');
  if (mtime(out) >= newestUnder(join(root, 'src'))) return;
  log('compiling TypeScript (npm run build)');
  run('npm', ['run', '-s', 'build']);
}

// Debian package -> a binary that proves it is installed.
const TEST_PACKAGES = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  podman: 'podman',
  containerd: 'ctr',
  'docker.io': 'dockerd',
  nginx: 'nginx',
  uidmap: 'newuidmap',
  // test/bench runs wrk once to prove the benchmark's parser and whole-body reads.
  wrk: 'wrk',
  buildah: 'buildah',
  'nghttp2-client': 'h2load',
  curl: 'curl',
  openssl: 'openssl',
  'redis-server': 'redis-server',
  'ceph-mon': 'ceph-mon',
  'ceph-osd': 'ceph-osd',
  radosgw: 'radosgw',
  'ceph-common': 'ceph',
  chromium: 'chromium',
  // The k8s-tools bundle (real kube-apiserver, etcd, helm) is xz-compressed.
  'xz-utils': 'xz',
  // The Ansible collection in deploy/ansible is run with Debian's ansible-playbook (ansible-core 2.14).
  ansible: 'ansible-playbook',
};
const BENCH_PACKAGES = { wrk: 'wrk', hey: 'hey' };

function have(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin} || test -x /usr/bin/${bin}`], { stdio: 'ignore' }).status === 0;
}

function ensureDebian(pkgs) {
  const missing = Object.entries(pkgs)
    .filter(([, bin]) => !have(bin))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages: ${missing.join(' ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`);
    if (process.env.CI) process.exit(1);
    return;
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

ensureNodeModules();
ensureBuild();
if (mode === 'test' || mode === 'bench') ensureDebian(TEST_PACKAGES);
if (mode === 'bench') ensureDebian(BENCH_PACKAGES);
