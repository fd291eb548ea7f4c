import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';

export interface Credentials { username: string; password: string }

/** Where upstream credentials come from. Returns undefined when it has none for that host. */
export interface CredentialSource {
  readonly name: string;
  get(host: string): Promise<Credentials | undefined>;
}

/** The keys a host may be filed under, as Docker does (Docker Hub under https://index.docker.io/v1/). */
function authKeys(host: string): string[] {
  const h = host.toLowerCase();
  if (h === 'docker.io' || h === 'index.docker.io' || h === 'registry-1.docker.io') {
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  }
  return [h];
}

/** Docker's ConvertToHostname: strips the scheme and everything after the first `/`. */
function keyHost(key: string): string {
  return key.replace(/^https?:\/\//, '').split('/')[0]!.toLowerCase();
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface DockerConfigFile { auths?: Record<string, AuthEntry>; credsStore?: string; credHelpers?: Record<string, string> }

function decode(e: AuthEntry): Credentials | undefined {
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return undefined;
}

/** Finds an entry: exact key first, then keys normalised to their host (Docker's rule). */
export function lookupAuths(auths: Record<string, AuthEntry>, host: string): AuthEntry | undefined {
  const keys = authKeys(host);
  for (const k of keys) if (auths[k]) return auths[k];
  for (const [k, v] of Object.entries(auths)) if (keys.includes(keyHost(k))) return v;
  return undefined;
}

/**
 * Docker `config.json`: credHelpers[host] first, then credsStore, then plain `auths` (what the
 * Docker CLI does; with a store configured, a plaintext auth in the file is ignored).
 */
export class DockerConfigSource implements CredentialSource {
  readonly name: string;
  constructor(private readonly path: string, private readonly helpers: HelperRunner = runHelper) { this.name = `docker config ${path}`; }

  async get(host: string): Promise<Credentials | undefined> {
    const cfg = await readJson<DockerConfigFile>(this.path);
    if (!cfg) return undefined;
    const helper = authKeys(host).map((k) => cfg.credHelpers?.[k]).find(Boolean) ?? cfg.credsStore;
    if (helper) return this.helpers(helper, authKeys(host)[0]!);
    const entry = cfg.auths ? lookupAuths(cfg.auths, host) : undefined;
    return entry ? decode(entry) : undefined;
  }
}

/** containers `auth.json` (podman, skopeo): `auths` keyed by host or host/namespace. */
export class AuthFileSource implements CredentialSource {
  readonly name: string;
  constructor(private readonly path: string) { this.name = `auth file ${path}`; }
  async get(host: string): Promise<Credentials | undefined> {
    const cfg = await readJson<DockerConfigFile>(this.path);
    const entry = cfg?.auths ? lookupAuths(cfg.auths, host) : undefined;
    return entry ? decode(entry) : undefined;
  }
}

/** A Docker credential helper named in the config (`auth: { helper: ecr-login }`). */
export class HelperSource implements CredentialSource {
  readonly name: string;
  constructor(private readonly helper: string, private readonly run: HelperRunner = runHelper) { this.name = `credential helper ${helper}`; }
  get(host: string): Promise<Credentials | undefined> { return this.run(this.helper, authKeys(host)[0]!); }
}

export class StaticSource implements CredentialSource {
  readonly name = 'config';
  constructor(private readonly creds: Credentials) {}
  async get(): Promise<Credentials> { return this.creds; }
}

/** First source that has credentials wins; answers are cached for `ttlMs` (helpers can be slow). */
export class CredentialChain {
  private readonly cache = new Map<string, { at: number; creds: Credentials | undefined }>();
  constructor(private readonly sources: CredentialSource[], private readonly ttlMs = 300_000, private readonly now: () => number = Date.now) {}

  async get(host: string): Promise<Credentials | undefined> {
    const hit = this.cache.get(host);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.creds;
    let creds: Credentials | undefined;
    for (const s of this.sources) { creds = await s.get(host).catch(() => undefined); if (creds) break; }
    this.cache.set(host, { at: this.now(), creds });
    return creds;
  }

  get empty(): boolean { return this.sources.length === 0; }
}

export type HelperRunner = (helper: string, serverUrl: string) => Promise<Credentials | undefined>;

/**
 * Runs `docker-credential-<helper> get` with the server URL on stdin (the credential-helper
 * protocol); a "not found" answer means no credentials. The secret never reaches a log.
 */
function runHelper(helper: string, serverUrl: string): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 15_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) {
        if (/credentials not found/i.test(String(stdout))) { resolve(undefined); return; }
        reject(new Error(`credential helper docker-credential-${helper} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
        return;
      }
      try {
        const doc = JSON.parse(stdout) as { Username?: string; Secret?: string };
        resolve(doc.Secret ? { username: doc.Username ?? '', password: doc.Secret } : undefined);
      } catch { reject(new Error(`credential helper docker-credential-${helper} printed no JSON`)); }
    });
    child.stdin?.end(serverUrl);
  });
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try { return JSON.parse(await readFile(path, 'utf8')) as T; } catch { return undefined; }
}
