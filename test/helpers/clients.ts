// Real container clients (skopeo, podman, containerd+ctr, dockerd+docker) pointed at loopback
// registries, each confined to private temp dirs so tests neither read nor change host state.
import { spawnSync } from 'node:child_process';
import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  makeTempDir,
  removeTempDir,
  run,
  spawnDaemon,
  stopDaemon,
  unmountUnder,
  onExit,
  killTree,
  type RunResult,
} from './proc.js';
import type { BasicAuth } from './images.js';
import { waitFor } from './wait.js';

export type { RunResult } from './proc.js';

// Daemons look up helpers (runc, containerd-shim-*, containerd for dockerd) on PATH; the test
// runner's PATH may lack the sbin dirs.
const BASE_PATH = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

function baseEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Only what the tools need: no inherited DOCKER_HOST, REGISTRY_AUTH_FILE, CONTAINERS_* from the host.
  return { PATH: BASE_PATH, HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, 'config'), TMPDIR: join(home, 'tmp'), ...extra };
}

function homeDir(prefix: string): string {
  const dir = makeTempDir(prefix);
  for (const d of ['run', 'config', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  return dir;
}

const sha256hex = (b: string | Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

function failed(what: string, r: RunResult): Error {
  return new Error(`${what} failed (exit ${r.code ?? r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

// ---- containers/image blob-info cache isolation --------------------------------------------------

/**
 * skopeo and podman (containers/image) running as root always use
 * /var/lib/containers/cache/blob-info-cache-v1.boltdb — there is no flag or env var for it in
 * skopeo 1.9 / podman 4.3. That cache remembers which registry host had which blob and which
 * compressed digest maps to which uncompressed one, i.e. it would leak state between tests (and
 * ports get reused). We run those tools in a private mount namespace with a per-client dir
 * bind-mounted over the cache dir. Only the (empty) mount point is ever created on the host.
 */
const CI_CACHE = '/var/lib/containers/cache';
let unshareWorks: boolean | undefined;
function canIsolateCache(): boolean {
  if (unshareWorks === undefined) {
    try {
      mkdirSync(CI_CACHE, { recursive: true, mode: 0o700 });
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `mount -t tmpfs tmpfs ${CI_CACHE}`], { timeout: 5_000 });
      unshareWorks = r.status === 0;
    } catch {
      unshareWorks = false;
    }
  }
  return unshareWorks;
}

function isolated(cacheDir: string, cmd: string, args: string[]): [string, string[]] {
  if (!canIsolateCache()) return [cmd, args];
  mkdirSync(cacheDir, { recursive: true });
  return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind "$0" ${CI_CACHE} && exec "$@"`, cacheDir, cmd, ...args]];
}

// ---- skopeo -------------------------------------------------------------------------------------

export interface SkopeoCopyOptions {
  multiArch?: 'all' | 'system' | 'index-only';
  /** Defaults to false: every test registry is plain HTTP on loopback. */
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  srcCreds?: BasicAuth;
  destCreds?: BasicAuth;
  /** registries.conf content (mirrors, insecure...). Default: an empty config. */
  registriesConf?: string;
  extra?: string[];
  timeoutMs?: number;
  /** Runs skopeo through this (e.g. a network namespace's `ip netns exec NAME`). */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

/** Per-call skopeo sandbox: HOME, auth file, policy, registries.conf, lookaside config, tmp. */
function skopeoSandbox(registriesConf = ''): { env: NodeJS.ProcessEnv; global: string[]; home: string; cache: string } {
  const home = homeDir('skopeo');
  writeFileSync(join(home, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  writeFileSync(join(home, 'registries.conf'), registriesConf);
  writeFileSync(join(home, 'auth.json'), '{"auths":{}}');
  mkdirSync(join(home, 'registries.d'));
  const env = baseEnv(home, {
    CONTAINERS_REGISTRIES_CONF: join(home, 'registries.conf'),
    REGISTRY_AUTH_FILE: join(home, 'auth.json'),
  });
  // skopeo 1.9's containers/image ignores CONTAINERS_REGISTRIES_CONF (podman reads it itself), so
  // the file must be passed with --registries-conf or mirrors are silently not used.
  const global = [
    '--policy', join(home, 'policy.json'),
    '--registries.d', join(home, 'registries.d'),
    '--registries-conf', join(home, 'registries.conf'),
    '--tmpdir', join(home, 'tmp'),
  ];
  return { env, global, home, cache: join(home, 'blob-info-cache') };
}

const creds = (a: BasicAuth): string => `${a.user}:${a.password}`;

/**
 * `skopeo copy SRC DEST` (transport-prefixed refs, e.g. docker://127.0.0.1:5000/a:b, oci:/dir:tag).
 * TLS verification is off unless asked for; the result is returned, not asserted.
 */
export async function skopeoCopy(src: string, dest: string, opts: SkopeoCopyOptions = {}): Promise<RunResult> {
  const sb = skopeoSandbox(opts.registriesConf);
  try {
    const args = [...sb.global, 'copy', '--retry-times', '0'];
    if (src.startsWith('docker://')) args.push(`--src-tls-verify=${opts.srcTlsVerify ?? false}`);
    if (dest.startsWith('docker://')) args.push(`--dest-tls-verify=${opts.destTlsVerify ?? false}`);
    if (opts.multiArch) args.push('--multi-arch', opts.multiArch);
    if (opts.srcCreds) args.push('--src-creds', creds(opts.srcCreds));
    if (opts.destCreds) args.push('--dest-creds', creds(opts.destCreds));
    args.push(...(opts.extra ?? []), src, dest);
    const [cmd, full] = isolated(sb.cache, 'skopeo', args);
    const [c, a] = opts.wrap ? opts.wrap(cmd, full) : [cmd, full];
    return await run(c, a, { env: sb.env, timeoutMs: opts.timeoutMs ?? 120_000 });
  } finally {
    removeTempDir(sb.home);
  }
}

/**
 * Digest of the manifest a reference resolves to, computed from the raw bytes (`inspect --raw`).
 * Plain `skopeo inspect` would pick the host platform out of an index; we want the top level.
 */
export async function skopeoInspectDigest(
  ref: string,
  opts: { tlsVerify?: boolean; creds?: BasicAuth; registriesConf?: string } = {},
): Promise<string> {
  const sb = skopeoSandbox(opts.registriesConf);
  try {
    const args = [...sb.global, 'inspect', '--raw', '--retry-times', '0'];
    if (ref.startsWith('docker://')) args.push(`--tls-verify=${opts.tlsVerify ?? false}`);
    if (opts.creds) args.push('--creds', creds(opts.creds));
    args.push(ref);
    const [cmd, full] = isolated(sb.cache, 'skopeo', args);
    // stdout must be the exact bytes: no trimming.
    const r = await run(cmd, full, { env: sb.env, timeoutMs: 60_000 });
    if (r.code !== 0) throw failed(`skopeo inspect ${ref}`, r);
    return sha256hex(r.stdout);
  } finally {
    removeTempDir(sb.home);
  }
}

/** Digest recorded in an OCI layout's index.json for a tag (what `skopeo copy ... oci:DIR:TAG` wrote). */
export function ociLayoutDigest(dir: string, tag: string): string {
  const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const m = idx.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error(`tag ${tag} not in ${dir}/index.json`);
  return m.digest;
}

// ---- podman -------------------------------------------------------------------------------------

export interface PodmanOptions {
  /** registries.conf content, e.g. `[[registry]]\nlocation="127.0.0.1:5000"\ninsecure=true\n`. */
  registriesConf: string;
}

export interface Podman {
  dir: string;
  /** Runs `podman <global isolation flags> ...args`. */
  run(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Pulls and returns the digest podman recorded for the image (the top-level manifest/index). */
  pull(image: string, opts?: PodmanPullOptions): Promise<string>;
  cleanup(): void;
}

export interface PodmanPullOptions {
  platform?: string;
  creds?: BasicAuth;
  tlsVerify?: boolean;
  timeoutMs?: number;
}

/**
 * A podman with private storage (vfs: no overlay mounts to clean up), runroot, tmpdir and events
 * log. Without --tmpdir and events_logfile_path podman writes to /run/libpod; cgroupfs because
 * there is no systemd here. Note: the libpod database pins tmpdir etc. on first use, so one
 * handle must keep using the same flags.
 */
export function createPodman(opts: PodmanOptions): Podman {
  const dir = homeDir('podman');
  const conf = join(dir, 'containers.conf');
  writeFileSync(join(dir, 'registries.conf'), opts.registriesConf);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  writeFileSync(join(dir, 'auth.json'), '{"auths":{}}');
  writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = []',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `static_dir = "${join(dir, 'root', 'libpod')}"`,
      `volume_path = "${join(dir, 'root', 'volumes')}"`,
      '',
    ].join('\n'),
  );
  const env = baseEnv(dir, {
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    CONTAINERS_CONF: conf,
    REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    // storage.conf must not be read from /etc: all storage settings come from flags below.
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
  });
  // Same values as the flags: podman refuses a storage.conf without runroot/graphroot.
  writeFileSync(
    join(dir, 'storage.conf'),
    `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, 'runroot')}"\ngraphroot = "${join(dir, 'root')}"\n`,
  );
  const global = [
    '--root', join(dir, 'root'),
    '--runroot', join(dir, 'runroot'),
    '--tmpdir', join(dir, 'libpod-tmp'),
    '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
  ];
  const doRun = (args: string[], timeoutMs = 120_000): Promise<RunResult> => {
    // --signature-policy is a (hidden) per-command flag of pull/push, not a global one.
    const sub = args[0] === 'pull' || args[0] === 'push' ? [args[0], '--signature-policy', join(dir, 'policy.json'), ...args.slice(1)] : args;
    const [cmd, full] = isolated(join(dir, 'blob-info-cache'), 'podman', [...global, ...sub]);
    return run(cmd, full, { env, timeoutMs });
  };
  return {
    dir,
    run: doRun,
    pull: async (image, p = {}) => {
      const args = ['pull'];
      if (p.platform) args.push('--platform', p.platform);
      if (p.creds) args.push('--creds', creds(p.creds));
      if (p.tlsVerify !== undefined) args.push(`--tls-verify=${p.tlsVerify}`);
      args.push(image);
      const r = await doRun(args, p.timeoutMs);
      if (r.code !== 0) throw failed(`podman pull ${image}`, r);
      const id = r.stdout.trim().split('\n').pop()!.trim();
      const ins = await doRun(['image', 'inspect', '--format', '{{.Digest}}', id]);
      if (ins.code !== 0) throw failed(`podman image inspect ${id}`, ins);
      return ins.stdout.trim();
    },
    cleanup: () => removeTempDir(dir),
  };
}

/** One-shot pull into a throw-away podman store; returns the pulled image's digest. */
export async function podmanPull(image: string, opts: PodmanOptions & PodmanPullOptions): Promise<string> {
  const p = createPodman(opts);
  try {
    return await p.pull(image, opts);
  } finally {
    p.cleanup();
  }
}

// ---- containerd + ctr ---------------------------------------------------------------------------

export interface Containerd {
  socket: string;
  dir: string;
  namespace: string;
  logFile: string;
  ctr(args: string[], timeoutMs?: number): Promise<RunResult>;
  stop(): Promise<void>;
}

/**
 * A private containerd 1.6: own root/state/sockets, CRI disabled (it would want CNI and would try
 * to manage /etc/cni...), the "opt" plugin moved off /opt/containerd. Uses the default overlayfs
 * snapshotter, which works here; unpack mounts are transient and gone after the pull.
 */
export async function startContainerd(): Promise<Containerd> {
  const dir = makeTempDir('ctrd');
  const socket = join(dir, 'containerd.sock');
  const logFile = join(dir, 'containerd.log');
  const config = [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(dir, 'opt')}"`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config.toml'), config);
  const env = baseEnv(dir);
  const d = spawnDaemon('containerd', ['--config', join(dir, 'config.toml'), '--log-level', 'info'], { stdoutFile: logFile, env });
  const namespace = 'regway-test';
  const ctr = (args: string[], timeoutMs = 120_000): Promise<RunResult> =>
    run('ctr', ['--address', socket, '--namespace', namespace, ...args], { env, timeoutMs });
  // Up when `ctr version` answers; a daemon that exited ends the wait too (checked below).
  await waitFor(async () => d.hasExited() || (existsSync(socket) && (await ctr(['version'], 5_000)).code === 0), 'containerd to answer `ctr version`', 30_000).catch(() => undefined);
  if (d.hasExited() || (await ctr(['version'], 5_000)).code !== 0) {
    const log = readFileSync(logFile, 'utf8');
    await stopDaemon(d, 1_000);
    removeTempDir(dir);
    throw new Error(`containerd did not start:\n${log.slice(-4000)}`);
  }
  let stopped = false;
  return {
    socket,
    dir,
    namespace,
    logFile,
    ctr,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopDaemon(d, 10_000);
      removeTempDir(dir);
    },
  };
}

export interface HostsMirror {
  /** e.g. http://127.0.0.1:8080 or http://127.0.0.1:8080/v2/docker.io (with overridePath). */
  url: string;
  capabilities?: ('pull' | 'resolve' | 'push')[];
  overridePath?: boolean;
  skipVerify?: boolean;
  header?: Record<string, string>;
}

/**
 * Writes DIR/<registryHost>/hosts.toml (containerd's registry host config). `server` is the
 * upstream fallback; mirrors are tried first, in order. registryHost is the name as it appears in
 * image refs (docker.io, 127.0.0.1:5000, ...); for docker.io use server https://registry-1.docker.io.
 */
export function writeHostsToml(hostsDir: string, registryHost: string, cfg: { server?: string; mirrors?: HostsMirror[] }): string {
  const q = (s: string): string => JSON.stringify(s);
  const lines: string[] = [];
  if (cfg.server) lines.push(`server = ${q(cfg.server)}`, '');
  for (const m of cfg.mirrors ?? []) {
    lines.push(`[host.${q(m.url)}]`);
    lines.push(`  capabilities = [${(m.capabilities ?? ['pull', 'resolve']).map(q).join(', ')}]`);
    if (m.overridePath) lines.push('  override_path = true');
    if (m.skipVerify) lines.push('  skip_verify = true');
    if (m.header) {
      lines.push(`  [host.${q(m.url)}.header]`);
      for (const [k, v] of Object.entries(m.header)) lines.push(`    ${k} = [${q(v)}]`);
    }
    lines.push('');
  }
  // containerd 1.6 names the dir after the host; a port's ':' is kept as is.
  const d = join(hostsDir, registryHost);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'hosts.toml'), lines.join('\n'));
  return join(d, 'hosts.toml');
}

export interface CtrPullOptions {
  platform?: string;
  allPlatforms?: boolean;
  plainHttp?: boolean;
  user?: BasicAuth;
  timeoutMs?: number;
}

/**
 * `ctr images pull --hosts-dir DIR REF`; returns the digest of the image record containerd
 * created (the manifest or index the tag resolved to). REF must be fully qualified
 * (docker.io/library/alpine:3, 127.0.0.1:5000/a:b).
 */
export async function ctrPull(c: Containerd, ref: string, hostsDir: string, opts: CtrPullOptions = {}): Promise<string> {
  const r = await ctrPullRaw(c, ref, hostsDir, opts);
  if (r.code !== 0) throw failed(`ctr images pull ${ref}`, r);
  return ctrImageDigest(c, ref);
}

/** Same as ctrPull but returns the raw result (for tests that expect a failure). */
export function ctrPullRaw(c: Containerd, ref: string, hostsDir: string, opts: CtrPullOptions = {}): Promise<RunResult> {
  const args = ['images', 'pull', '--hosts-dir', hostsDir];
  if (opts.platform) args.push('--platform', opts.platform);
  if (opts.allPlatforms) args.push('--all-platforms');
  if (opts.plainHttp) args.push('--plain-http');
  if (opts.user) args.push('--user', creds(opts.user));
  args.push(ref);
  return c.ctr(args, opts.timeoutMs);
}

/** Digest column of `ctr images ls name==REF`. */
export async function ctrImageDigest(c: Containerd, ref: string): Promise<string> {
  const r = await c.ctr(['images', 'ls', `name==${ref}`]);
  if (r.code !== 0) throw failed('ctr images ls', r);
  const row = r.stdout.split('\n').slice(1).find((l) => l.split(/\s+/)[0] === ref);
  const digest = row?.split(/\s+/)[2];
  if (!digest?.startsWith('sha256:')) throw new Error(`ctr images ls: no record for ${ref}:\n${r.stdout}`);
  return digest;
}

// ---- dockerd + docker ---------------------------------------------------------------------------

export interface DockerdOptions {
  registryMirrors?: string[];
  insecureRegistries?: string[];
  /** Extra daemon.json keys (must not duplicate a command-line flag, or dockerd refuses to start). */
  daemonJson?: Record<string, unknown>;
  /** Use this daemon.json (its content is the caller's, e.g. a tree regway manages) instead of writing one. */
  configFile?: string;
  /** Where dockerd writes its pid (default: in its private dir). */
  pidFile?: string;
}

export interface Dockerd {
  socket: string;
  dir: string;
  logFile: string;
  docker(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  stop(): Promise<void>;
}

/**
 * dockerd 20.10 with everything private: data-root, exec-root, pidfile, socket, daemon.json. No
 * --containerd: dockerd then supervises its own containerd under exec-root/data-root, which
 * coexists fine with another containerd (distinct sockets/roots). No iptables, no bridge, vfs
 * storage: nothing host-wide to set up or tear down. One unavoidable host write remains: dockerd
 * 20.10 creates /etc/docker/key.json (its trust key) if missing; there is no flag to move it.
 * The `docker` CLI here is v28; it negotiates down to the daemon's API 1.41.
 */
export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = makeTempDir('dockerd');
  const socket = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const cliConfig = join(dir, 'cli');
  mkdirSync(cliConfig);
  writeFileSync(join(cliConfig, 'config.json'), '{}');
  const daemonJson: Record<string, unknown> = { ...opts.daemonJson };
  if (opts.registryMirrors) daemonJson['registry-mirrors'] = opts.registryMirrors;
  if (opts.insecureRegistries) daemonJson['insecure-registries'] = opts.insecureRegistries;
  const configFile = opts.configFile ?? join(dir, 'daemon.json');
  if (!opts.configFile) writeFileSync(configFile, JSON.stringify(daemonJson, null, 2));
  const env = baseEnv(dir);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const d = spawnDaemon(
    'dockerd',
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs',
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', opts.pidFile ?? join(dir, 'docker.pid'),
      '-H', `unix://${socket}`,
      '--config-file', configFile,
      '--log-level', 'info',
    ],
    { stdoutFile: logFile, env: { ...env, DOCKER_TMPDIR: join(dir, 'tmp') } },
  );
  // If the test process dies, dockerd's containerd child (own session) must die too: killTree
  // in the exit hook walks /proc for descendants, which covers it.
  const unhook = onExit(() => killTree(d.pid, 'SIGKILL'));
  const cliEnv = { ...env, DOCKER_CONFIG: cliConfig, DOCKER_HOST: `unix://${socket}`, DOCKER_CLI_HINTS: 'false' };
  const docker = (args: string[], o: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> =>
    run('docker', ['-H', `unix://${socket}`, ...args], { env: cliEnv, timeoutMs: o.timeoutMs ?? 120_000, input: o.input });
  // Up when `docker version` answers; a daemon that exited ends the wait too.
  const ok = await waitFor(async () => (d.hasExited() ? 'exited' : existsSync(socket) && (await docker(['version'], { timeoutMs: 10_000 })).code === 0 && 'up'), 'dockerd to answer `docker version`', 60_000, { interval: 250 })
    .then((s) => s === 'up', () => false);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // SIGTERM lets dockerd shut its containerd down cleanly; stopDaemon SIGKILLs leftovers.
    await stopDaemon(d, 20_000);
    unhook();
    unmountUnder(dir);
    removeTempDir(dir);
  };
  if (!ok) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    await stop();
    throw new Error(`dockerd did not become ready in 60 s:\n${log.slice(-4000)}`);
  }
  return { socket, dir, logFile, docker, stop };
}

/** `docker login` with the password on stdin (keeps it out of argv). */
export async function dockerLogin(d: Dockerd, registry: string, auth: BasicAuth): Promise<RunResult> {
  return d.docker(['login', '--username', auth.user, '--password-stdin', registry], { input: auth.password });
}

/**
 * Pulls and returns the digest from the image's RepoDigests ("repo@sha256:..."). With a mirror the
 * digest is that of the tag's top-level manifest/index, the same as pulling from the origin.
 */
export async function dockerPull(d: Dockerd, image: string, opts: { platform?: string; timeoutMs?: number } = {}): Promise<string> {
  const args = ['pull', '--quiet'];
  if (opts.platform) args.push('--platform', opts.platform);
  const r = await d.docker([...args, image], { timeoutMs: opts.timeoutMs });
  if (r.code !== 0) throw failed(`docker pull ${image}`, r);
  const digests = await dockerRepoDigests(d, image);
  const first = digests[0];
  if (!first) throw new Error(`docker image inspect ${image}: no RepoDigests`);
  return first.slice(first.indexOf('@') + 1);
}

export async function dockerRepoDigests(d: Dockerd, image: string): Promise<string[]> {
  const r = await d.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', image]);
  if (r.code !== 0) throw failed(`docker image inspect ${image}`, r);
  return JSON.parse(r.stdout) as string[];
}

