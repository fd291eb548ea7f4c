// The processes a benchmark run compares, all on 127.0.0.1 with private temp dirs, started fresh
// per run: the upstream (a real distribution holding a generated image), distribution in proxy
// mode, regway as its own process (so its RSS is its own), and nginx serving the same blob files.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startDistribution, REGISTRY_BIN, type Distribution } from '../../test/helpers/distribution.js';
import { pushImage, type PushedImage } from '../../test/helpers/images.js';
import { freePort, waitForHttp } from '../../test/helpers/ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, type Daemon } from '../../test/helpers/proc.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A started server the benchmark talks to. */
export interface Peer {
  name: string;
  url: string;
  /** The process whose memory is sampled. */
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface Upstream {
  dist: Distribution;
  image: PushedImage;
  name: string;
  tag: string;
}

/** The origin: a plain distribution with the access log on (amplification is read from it). */
export async function startUpstream(opts: { layers: number; layerSize: number; name: string; tag: string }): Promise<Upstream> {
  const dist = await startDistribution();
  try {
    const image = await pushImage(dist.url, opts.name, opts.tag, { layers: opts.layers, layerSize: opts.layerSize });
    return { dist, image, name: opts.name, tag: opts.tag };
  } catch (e) {
    await dist.stop();
    throw e;
  }
}

/** Starts a daemon on a fresh port, retrying when the port was taken between probe and bind. */
async function startOnFreePort(
  name: string, dir: string,
  spawnAt: (port: number) => Promise<Daemon>,
  ready: (url: string) => string,
): Promise<{ daemon: Daemon; port: number; url: string }> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const daemon = await spawnAt(port);
    const url = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([
        waitForHttp(ready(url), 30_000),
        daemon.exited.then(() => { throw new Error(`${name} exited during startup`); }),
      ]);
      return { daemon, port, url };
    } catch (e) {
      last = e;
      await stopDaemon(daemon, 1_000);
    }
  }
  const logs = await readFile(join(dir, 'stderr.log'), 'utf8').catch(() => '');
  throw new Error(`${name} did not start: ${String(last)}\n${logs.slice(-3000)}`);
}

function peer(name: string, url: string, daemon: Daemon, dir: string, graceMs = 5_000): Peer {
  let stopped = false;
  return {
    name, url, pid: daemon.pid, dir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopDaemon(daemon, graceMs);
      removeTempDir(dir);
    },
  };
}

/**
 * distribution 2.8 as a pull-through cache of the upstream. Our own config rather than the test
 * helper's: the comparison is fair only when both gateways log at warn (distribution otherwise
 * writes an access line and a JSON "response completed" line per request).
 */
export async function startDistributionProxy(remoteurl: string): Promise<Peer> {
  const dir = makeTempDir('bench-distproxy');
  const { daemon, url } = await startOnFreePort('distribution proxy', dir, async (port) => {
    const cfg = {
      version: 0.1,
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
      proxy: { remoteurl },
    };
    await writeFile(join(dir, 'config.yml'), stringify(cfg));
    return spawnDaemon(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdoutFile: join(dir, 'stdout.log'), stderrFile: join(dir, 'stderr.log'), cwd: dir });
  }, (u) => `${u}/v2/`);
  return peer('distribution-proxy', url, daemon, dir);
}

export interface RegwayPeer extends Peer { storage: string }

/**
 * regway as a separate process from bin/regway (dist/ when built, else tsx), configured so plain
 * `/v2/<name>/...` paths go to the upstream, exactly like distribution's proxy.
 */
export async function startRegway(upstream: Distribution, opts: { cpuProfDir?: string; bin?: string } = {}): Promise<RegwayPeer> {
  const dir = makeTempDir('bench-regway');
  const storage = join(dir, 'storage');
  const nodeArgs = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  const { daemon, url } = await startOnFreePort('regway', dir, async (port) => {
    const cfg = {
      listen: `127.0.0.1:${port}`,
      storage: { path: storage },
      defaultRegistry: upstream.host,
      registries: { [upstream.host]: { upstreams: [{ url: upstream.url }] } },
      log: { level: 'warn' },
    };
    await writeFile(join(dir, 'regway.yaml'), stringify(cfg));
    return spawnDaemon(process.execPath, [...nodeArgs, opts.bin ?? join(ROOT, 'bin', 'regway'), 'serve', '--config', join(dir, 'regway.yaml')],
      { stdoutFile: join(dir, 'stdout.log'), stderrFile: join(dir, 'stderr.log'), cwd: dir });
  }, (u) => `${u}/v2/`);
  // Shutdown drains in-flight downloads (up to 30 s) and then writes the CPU profile, if any.
  return { ...peer('regway', url, daemon, dir, 40_000), storage };
}

/**
 * nginx serving regway's own blob files as static files: the ceiling for warm blob throughput
 * (sendfile, no per-request work beyond a path rewrite). Runs as root because the temp dirs are
 * 0700; every path nginx writes (pid, logs, temp) is in its own temp dir.
 */
export async function startNginx(blobRoot: string, workers: number | 'auto'): Promise<Peer> {
  const dir = makeTempDir('bench-nginx');
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const { daemon, url } = await startOnFreePort('nginx', dir, async (port) => {
    const tmp = (n: string) => `${n}_temp_path ${join(dir, 'tmp', n)};`;
    const conf = `
user root;
worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'stderr.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  ${tmp('client_body')} ${tmp('proxy')} ${tmp('fastcgi')} ${tmp('uwsgi')} ${tmp('scgi')}
  server {
    listen 127.0.0.1:${port};
    root ${blobRoot};
    location = /v2/ { return 200 '{}'; }
    location ~ "^/v2/.+/blobs/sha256:([0-9a-f]{2})([0-9a-f]{62})$" { try_files /blobs/sha256/$1/$1$2 =404; }
  }
}
`;
    await writeFile(join(dir, 'nginx.conf'), conf);
    return spawnDaemon('/usr/sbin/nginx', ['-p', dir, '-e', join(dir, 'stderr.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      { stdoutFile: join(dir, 'stdout.log'), stderrFile: join(dir, 'stderr.log'), cwd: dir });
  }, (u) => `${u}/v2/`);
  return peer('nginx', url, daemon, dir);
}

/** True when dist/ is older than some file under src/ (bin/regway would run stale code). */
export async function distIsStale(): Promise<boolean> {
  const { statSync, readdirSync } = await import('node:fs');
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) return true;
  const newest = (d: string): number => readdirSync(d, { withFileTypes: true })
    .reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs), 0);
  return statSync(built).mtimeMs < newest(join(ROOT, 'src'));
}
