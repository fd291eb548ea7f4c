// Test helpers for the `regway config` integration tests: a real CNCF distribution registry started on a free
// loopback port, and a tiny generated image pushed over the HTTP API. Kept local to test/config on purpose: the
// fuller shared helper in test/helpers is written concurrently by someone else.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { waitFor } from '../helpers/wait.js';

export interface Registry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  url: string;
  /** Everything the registry printed so far (its access log included). */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd line. distribution only accepts bcrypt; python3's crypt module (3.11) can make one. */
export function htpasswdLine(user: string, password: string): string {
  const py = 'import crypt,sys; print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))';
  const r = spawnSync('python3', ['-W', 'ignore', '-c', py, user, password], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.includes('$2')) throw new Error(`python3 could not make a bcrypt hash: ${r.stderr}`);
  return r.stdout.trim();
}

export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'regway-dist-'));
  const port = await freePort();
  let auth = '';
  if (opts.htpasswd) {
    writeFileSync(join(dir, 'htpasswd'), opts.htpasswd + '\n');
    auth = `auth:\n  htpasswd:\n    realm: regway-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n` +
    `http:\n  addr: 127.0.0.1:${port}\n${auth}`);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  await waitFor(async () => { const r = await fetch(`${url}/v2/`); return r.status === 200 || r.status === 401; }, 'docker-registry to answer /v2/', 20_000, { seen: () => `output so far:\n${out}` });
  return {
    host, url, log: () => out,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** One-file ustar archive: enough for every runtime to unpack a layer. */
function tarOneFile(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number): void => { h.write(s.slice(0, len), off, 'ascii'); };
  put(name, 0, 100);
  put('0000644\0', 100, 8); put('0000000\0', 108, 8); put('0000000\0', 116, 8);
  put(content.length.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('14000000000\0', 136, 12);
  put('        ', 148, 8); put('0', 156, 1); put('ustar\0', 257, 6); put('00', 263, 2);
  let sum = 0; for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

export interface PushedImage { repo: string; tag: string; manifestDigest: string }

/** Pushes a generated one-layer image (Docker schema 2, which dockerd 20.10, containerd and podman all pull). */
export async function pushImage(reg: Registry, repo: string, tag: string, auth?: { username: string; password: string }): Promise<PushedImage> {
  const headers: Record<string, string> = auth ? { authorization: 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } : {};
  const tar = tarOneFile('hello.txt', Buffer.from(`hello from ${repo}:${tag} ${Date.now()}\n`));
  const layer = gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello.txt'] },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  for (const blob of [layer, config]) await pushBlob(reg, repo, blob, headers);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha(layer) }] }));
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(manifest),
    headers: { ...headers, 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' } });
  if (r.status !== 201) throw new Error(`manifest PUT ${r.status}: ${await r.text()}`);
  return { repo, tag, manifestDigest: sha(manifest) };
}

async function pushBlob(reg: Registry, repo: string, blob: Buffer, headers: Record<string, string>): Promise<void> {
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  if (start.status !== 202) throw new Error(`upload start ${start.status}: ${await start.text()}`);
  const loc = new URL(start.headers.get('location') ?? '', reg.url);
  loc.searchParams.set('digest', sha(blob));
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(blob), headers: { ...headers, 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob PUT ${put.status}: ${await put.text()}`);
}
