// A real nginx on loopback with a config fragment of the test's choosing: a slow (limit_rate),
// killable or misbehaving (return 500/429/404) front for a real registry.
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** Waits until the port accepts connections (works for TLS listeners too). */
async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const accepts = () => new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
  await waitFor(accepts, `port ${port} to accept connections`, timeoutMs);
}
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, killTree, type Daemon } from './proc.js';

export interface Nginx {
  url: string;
  host: string;
  port: number;
  dir: string;
  /** Lines of the access log ($request $status $body_bytes_sent). */
  accessLog(): string[];
  stop(): Promise<void>;
  /** SIGKILL the master and workers: connections die mid-transfer. */
  kill(): void;
}

/** `server` is the inside of a `server {}` block; `listen` is added. */
export async function startNginx(server: string, opts: { port?: number; ssl?: { cert: string; key: string; http2?: boolean }; httpExtra?: string } = {}): Promise<Nginx> {
  const dir = makeTempDir('nginx');
  const port = opts.port ?? await freePort();
  for (const d of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const conf = `
worker_processes 1;
# Workers as root: the temp dirs are private (0700) to the test, and nginx buffers to them.
user root;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format regway '$request_method $uri $status $body_bytes_sent';
  access_log ${dir}/access.log regway;
  client_body_temp_path ${dir}/client; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_http_version 1.1;
  ${opts.httpExtra ?? ''}
  server {
    listen 127.0.0.1:${port}${opts.ssl ? ` ssl${opts.ssl.http2 ? ' http2' : ''}` : ''};
    ${opts.ssl ? `ssl_certificate ${opts.ssl.cert}; ssl_certificate_key ${opts.ssl.key};` : ''}
    ${server}
  }
}`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const d: Daemon = spawnDaemon('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdoutFile: join(dir, 'stdout.log') });
  const scheme = opts.ssl ? 'https' : 'http';
  try { await waitForTcp(port, 10_000); } catch (e) {
    const err = ['error.log', 'stdout.log'].map((f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '')).join('\n');
    killTree(d.pid); removeTempDir(dir);
    throw new Error(`nginx did not start: ${(e as Error).message}\n${err}`);
  }
  return {
    url: `${scheme}://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, dir,
    accessLog: () => (existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean) : []),
    stop: async () => { await stopDaemon(d, 3000); removeTempDir(dir); },
    kill: () => { killTree(d.pid, 'SIGKILL'); },
  };
}
