// Starts a real CNCF distribution (Debian's docker-registry 2.8.2) on loopback, optionally as an
// htpasswd-protected registry or as a pull-through proxy, and exposes its access log for assertions.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitForHttp } from './ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, killTree, type Daemon } from './proc.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface DistributionOptions {
  htpasswd?: { user: string; password: string };
  proxy?: { remoteurl: string; username?: string; password?: string };
  /** Access log lines are on by default (the tests assert on them); false turns them off. */
  logAccess?: boolean;
  /** Address to listen on (default 127.0.0.1), e.g. a bridge address network namespaces reach. */
  host?: string;
}

export interface AccessLine {
  remote: string;
  time: string;
  method: string;
  /** Request path without the query string, e.g. /v2/foo/blobs/sha256:... */
  path: string;
  /** Raw request target including the query string. */
  uri: string;
  status: number;
  bytes: number;
  userAgent: string;
}

export interface Distribution {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the form image references and registries.conf want. */
  host: string;
  port: number;
  dir: string;
  /** stdout: distribution writes the combined-format access log there and nothing else. */
  accessLogFile: string;
  /** stderr: the JSON application log (one "response completed" entry per request, errors...). */
  appLogFile: string;
  accessLog(): Promise<AccessLine[]>;
  stop(): Promise<void>;
  /** SIGKILL, no cleanup: for tests that need an upstream to vanish abruptly. */
  kill(): void;
}

/**
 * Creates a bcrypt htpasswd line. distribution only accepts bcrypt, `htpasswd` (apache2-utils) is not
 * installed, Python's bcrypt module is absent and its `crypt` module is gone in 3.13 — but Perl's
 * built-in crypt() calls glibc/libxcrypt, which implements $2b$ bcrypt, and perl-base is always
 * present on Debian. Cost 5 keeps per-request verification cheap (distribution checks every request).
 */
export function bcryptHtpasswdLine(user: string, password: string): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const rnd = randomBytes(22);
  let salt = '';
  for (let i = 0; i < 21; i++) salt += alphabet[rnd[i]! % 64];
  // The 22nd salt char carries only 2 significant bits; use a canonical one so libxcrypt never rejects it.
  salt += '.Oeu'[rnd[21]! % 4];
  const r = spawnSync('perl', ['-e', 'print crypt($ENV{PW}, $ENV{SALT})'], {
    env: { PW: password, SALT: `$2b$05$${salt}`, PATH: process.env.PATH ?? '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  const hash = r.stdout;
  if (r.status !== 0 || !hash.startsWith('$2b$05$') || hash.length !== 60) {
    throw new Error(`perl crypt() did not produce a bcrypt hash: ${JSON.stringify(hash)} ${r.stderr}`);
  }
  return `${user}:${hash}\n`;
}

// 127.0.0.1 - - [30/Nov/2026:02:11:16 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
// (gorilla/handlers CombinedLoggingHandler; user is "-" or the htpasswd user.)
const ACCESS_RE = /^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"/;

/** Parses combined-log-format access lines; any other line (JSON app log) is skipped. */
export function parseAccessLog(text: string): AccessLine[] {
  const out: AccessLine[] = [];
  for (const line of text.split('\n')) {
    const m = ACCESS_RE.exec(line);
    if (!m) continue;
    const uri = m[5]!;
    const q = uri.indexOf('?');
    out.push({
      remote: m[1]!,
      time: m[3]!,
      method: m[4]!,
      uri,
      path: q === -1 ? uri : uri.slice(0, q),
      status: Number(m[6]),
      bytes: m[7] === '-' ? 0 : Number(m[7]),
      userAgent: m[9]!,
    });
  }
  return out;
}

function buildConfig(dir: string, port: number, opts: DistributionOptions): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', formatter: 'json', accesslog: { disabled: opts.logAccess === false } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: true },
      // Uploads are purged after a week by default; irrelevant for tests, but avoid the background job.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `${opts.host ?? '127.0.0.1'}:${port}`,
      // A fixed secret silences the startup warning and keeps upload state valid across requests.
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
  };
  if (opts.htpasswd) {
    cfg.auth = { htpasswd: { realm: 'regway-test', path: join(dir, 'htpasswd') } };
  }
  if (opts.proxy) {
    const p: Record<string, string> = { remoteurl: opts.proxy.remoteurl };
    if (opts.proxy.username !== undefined) p.username = opts.proxy.username;
    if (opts.proxy.password !== undefined) p.password = opts.proxy.password;
    cfg.proxy = p;
  }
  return cfg;
}

/**
 * Starts docker-registry on a free loopback port and waits until /v2/ answers (200, or 401 when
 * htpasswd is on). Retries with another port if the chosen one was grabbed in the meantime.
 */
export async function startDistribution(opts: DistributionOptions = {}): Promise<Distribution> {
  const dir = makeTempDir('dist');
  if (opts.htpasswd) {
    await writeFile(join(dir, 'htpasswd'), bcryptHtpasswdLine(opts.htpasswd.user, opts.htpasswd.password));
  }
  const accessLogFile = join(dir, 'access.log');
  const appLogFile = join(dir, 'registry.log');
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    await writeFile(join(dir, 'config.yml'), stringify(buildConfig(dir, port, opts)));
    const d: Daemon = spawnDaemon(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], {
      stdoutFile: accessLogFile,
      stderrFile: appLogFile,
      cwd: dir,
    });
    const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
    try {
      // Race readiness against early exit (e.g. "address already in use").
      await Promise.race([
        waitForHttp(`${url}/v2/`, 15_000),
        d.exited.then(() => {
          throw new Error('docker-registry exited during startup');
        }),
      ]);
    } catch (err) {
      lastErr = err;
      await stopDaemon(d, 1_000);
      continue;
    }
    let stopped = false;
    return {
      url,
      host: `${opts.host ?? '127.0.0.1'}:${port}`,
      port,
      dir,
      accessLogFile,
      appLogFile,
      accessLog: async () => parseAccessLog(await readFile(accessLogFile, 'utf8')),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopDaemon(d, 5_000);
        removeTempDir(dir);
      },
      kill: () => killTree(d.pid, 'SIGKILL'),
    };
  }
  const log = await readFile(appLogFile, 'utf8').catch(() => '');
  removeTempDir(dir);
  throw new Error(`startDistribution failed: ${String(lastErr)}\n${log.slice(-4000)}`);
}
