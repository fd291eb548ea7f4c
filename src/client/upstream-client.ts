import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { bearerChallenge, parseChallenges } from '../auth/challenge.js';
import { TokenCache } from '../auth/tokens.js';
import type { Credentials } from '../auth/credentials.js';
import type { UpstreamConfig } from '../config/schema.js';
import { upstreamRefused } from '../obs/channels.js';
import { BlockList, isIP } from 'node:net';

export type { Credentials };
/** Looks up credentials for a host when needed (config, config.json, auth.json, helpers). */
export type CredentialProvider = (host: string) => Promise<Credentials | undefined>;

export interface UpstreamClientOptions {
  credentials?: CredentialProvider;
  tokens?: TokenCache;
  /** User-Agent of every request (regway's tools name themselves, so gateways can tell them from clients). */
  userAgent?: string;
  /**
   * Send the credentials to a token realm on any host, as `docker login` does: for the diagnostics,
   * where a person hands over credentials for the registry they are checking. The gateway never
   * sets it (its upstreams' credentials go to their own host, well-known realms or `tokenRealms`).
   */
  anyRealmHost?: boolean;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Repository name as the upstream knows it (already with `library/` for Docker Hub). */
  name: string;
  /** Path after `/v2/<name>/`, e.g. `manifests/v1` or `blobs/sha256:…`; empty for the `/v2/` ping. */
  path: string;
  query?: string;
  headers?: Record<string, string>;
  /** false: a 3xx is returned as is (the doctor follows a blob redirect itself, to say where it leads). */
  followRedirects?: boolean;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump?: () => Promise<void> };
}

/** Connection-level failure (refused, reset, timeout, TLS): the next upstream should be tried. */
export class UpstreamConnectionError extends Error {
  constructor(readonly upstream: string, readonly reason: unknown) {
    super(`upstream ${upstream} unreachable: ${describeCause(reason)}`);
    this.name = 'UpstreamConnectionError';
  }
}

const MAX_REDIRECTS = 5;
/**
 * Token realms known to belong to a registry on another host: credentials configured for the
 * registry may go there. Anything else needs the upstream's `tokenRealms`.
 */
const WELL_KNOWN_REALMS: Record<string, string[]> = {
  'registry-1.docker.io': ['https://auth.docker.io'],
  'registry.gitlab.com': ['https://gitlab.com'],
};
const MAX_ERROR_BODY = 64 * 1024;
const USER_AGENT = 'regway/0.1';

/**
 * HTTP client for one upstream registry: TLS and timeouts from its config, Docker token (Bearer)
 * and Basic auth, redirects followed without credentials. It never retries on another upstream:
 * that is the upstream layer's job.
 */
export class UpstreamClient {
  readonly base: URL;
  private readonly dispatcher: Agent;
  private readonly tokens: TokenCache;
  /** How this upstream asked us to authenticate last time, so later requests skip the 401 round trip. */
  private scheme: 'none' | 'basic' | 'bearer' | undefined;
  private bearerParams: { realm: string; service: string } | undefined;

  /** Docker Hub's rate-limit headers from the last answer that carried them (health reports them). */
  rateLimit: { remaining: number; limit?: number } | undefined;
  private readonly credentialProvider: CredentialProvider | undefined;
  private readonly userAgent: string;
  private readonly anyRealmHost: boolean;

  constructor(readonly config: UpstreamConfig, opts: UpstreamClientOptions = {}) {
    this.base = new URL(config.url.replace(/\/+$/, '') + '/');
    this.tokens = opts.tokens ?? new TokenCache();
    this.credentialProvider = opts.credentials;
    this.userAgent = opts.userAgent ?? USER_AGENT;
    this.anyRealmHost = opts.anyRealmHost ?? false;
    const tls = config.tls;
    this.dispatcher = new Agent({
      connect: {
        timeout: config.timeouts.connect,
        ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
        ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
        ...(tls.key ? { key: readFileSync(tls.key) } : {}),
        // Explicitly configured per upstream: for labs only, and logged at startup.
        rejectUnauthorized: !tls.insecure,
      },
      headersTimeout: config.timeouts.headers,
      bodyTimeout: config.timeouts.idle,
      keepAliveTimeout: 30_000,
      connections: 64,
      pipelining: 1,
      allowH2: config.http2,
    });
  }


  private credentials(): Promise<Credentials | undefined> {
    return this.credentialProvider ? this.credentialProvider(this.base.host) : Promise.resolve(undefined);
  }

  get id(): string { return this.config.url; }

  url(req: Pick<UpstreamRequest, 'name' | 'path' | 'query'>): URL {
    const p = req.path === '' && req.name === '' ? 'v2/' : `v2/${req.name}/${req.path}`;
    const u = new URL(p, this.base);
    if (req.query) u.search = req.query;
    return u;
  }

  async close(): Promise<void> { await this.dispatcher.close(); }

  /** Sends a request, authenticating as the upstream demands; follows redirects without credentials. */
  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const scope = req.name ? `repository:${req.name}:pull` : '';
    let auth = await this.authHeader(scope);
    let res = await this.raw(req, auth);
    // Probes (no repository) only want to know the upstream is alive: a 401 answers that. A token
    // from the cache (ours or the fleet's) may have been revoked: one more round with a fresh one.
    for (let round = 0; round < 2 && res.status === 401 && req.name; round++) {
      const challenge = res.headers['www-authenticate'];
      await drain(res);
      const rejected = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      if (round > 0 && !rejected) break;
      auth = await this.answerChallenge(challenge, scope, rejected);
      if (auth === undefined) break;
      res = await this.raw(req, auth);
    }
    return req.followRedirects === false ? res : this.followRedirects(req, res);
  }

  private async raw(req: UpstreamRequest, auth: string | undefined): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...(req.headers ?? {}) };
    if (auth) headers.authorization = auth;
    return this.dispatch(this.url(req), req.method, headers, this.dispatcher);
  }

  private async dispatch(url: URL, method: string, headers: Record<string, string>, dispatcher: Dispatcher): Promise<UpstreamResponse> {
    try {
      const r = await request(url, { method: method as Dispatcher.HttpMethod, headers, dispatcher, maxRedirections: 0 } as Parameters<typeof request>[1]);
      const remaining = parseRateLimit(r.headers['ratelimit-remaining'] as string | undefined);
      if (remaining !== undefined) this.rateLimit = { remaining, limit: parseRateLimit(r.headers['ratelimit-limit'] as string | undefined) };
      return { status: r.statusCode, headers: r.headers, body: r.body as unknown as UpstreamResponse['body'] };
    } catch (e) {
      throw new UpstreamConnectionError(this.id, e);
    }
  }

  private async followRedirects(req: UpstreamRequest, first: UpstreamResponse): Promise<UpstreamResponse> {
    let res = first;
    let url = this.url(req);
    for (let i = 0; i < MAX_REDIRECTS && [301, 302, 303, 307, 308].includes(res.status); i++) {
      const loc = header(res.headers, 'location');
      await drain(res);
      if (!loc) break;
      const next = new URL(loc, url);
      refuseRedirect(this, url, next);
      url = next;
      // Credentials never follow a redirect: blob redirects go to storage (S3, CDN) that must not see them.
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      if (req.headers?.range) headers.range = req.headers.range;
      if (req.headers?.accept) headers.accept = req.headers.accept;
      res = await this.dispatch(url, req.method, headers, url.origin === this.base.origin ? this.dispatcher : redirectAgent());
    }
    return res;
  }

  /** Pre-emptive auth once we know the upstream's scheme: saves a 401 round trip per request. */
  private async authHeader(scope: string): Promise<string | undefined> {
    if (this.scheme === 'basic') { const c = await this.credentials(); return c ? basic(c) : undefined; }
    if (this.scheme === 'bearer' && this.bearerParams && scope) {
      const { realm, service } = this.bearerParams;
      return `Bearer ${await this.fetchTokenCached(realm, service, scope)}`;
    }
    return undefined;
  }

  private async answerChallenge(header: string | string[] | undefined, scope: string, rejected: string | undefined): Promise<string | undefined> {
    const bearer = bearerChallenge(header);
    if (bearer?.params.realm) {
      const realm = this.checkRealm(bearer.params.realm);
      const service = bearer.params.service ?? '';
      this.scheme = 'bearer';
      this.bearerParams = { realm, service };
      const want = scope || bearer.params.scope || '';
      // The token we sent was refused: drop it here and for the whole fleet, never reuse it.
      const key = await this.tokenKey(realm, service, want);
      if (rejected) await this.tokens.invalidate(key, rejected);
      return `Bearer ${await this.tokens.getOrFetch(key, () => this.fetchToken(realm, service, want), rejected)}`;
    }
    const creds = await this.credentials();
    if (parseChallenges(header).some((c) => c.scheme === 'basic') && creds) {
      this.scheme = 'basic';
      return basic(creds);
    }
    return undefined;
  }

  private async fetchTokenCached(realm: string, service: string, scope: string): Promise<string> {
    return this.tokens.getOrFetch(await this.tokenKey(realm, service, scope), () => this.fetchToken(realm, service, scope));
  }

  /**
   * A token is cached per realm, service, scope and the identity of the credentials it was got
   * with (a hash): two upstreams with different credentials for one realm and scope (a fleet
   * shares tokens in Redis) must never get each other's tokens.
   */
  private async tokenKey(realm: string, service: string, scope: string): Promise<string> {
    const creds = this.mayReceiveCredentials(new URL(realm)) ? await this.credentials() : undefined;
    const who = creds ? createHash('sha256').update(`${creds.username}\u0000${creds.password}`).digest('hex').slice(0, 32) : 'anonymous';
    return `${TokenCache.key(realm, service, scope)}\u0000${who}`;
  }

  /**
   * A realm is where a 401 tells us to fetch a token, and the upstream chooses it: refused when it
   * is not http(s) or would take an https upstream's credentials to http in clear text.
   */
  private checkRealm(realm: string): string {
    let u: URL;
    try { u = new URL(realm); } catch { throw this.refuse('realm_invalid', `token realm ${JSON.stringify(realm.slice(0, 100))} is not a URL`); }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw this.refuse('realm_invalid', `token realm ${u.protocol} is not http(s)`);
    if (this.base.protocol === 'https:' && u.protocol === 'http:') throw this.refuse('realm_downgrade', `token realm ${u.origin} would downgrade https to http; refused`);
    return u.href;
  }

  /** Credentials go only to a realm on the upstream's own host, a well-known one, or one configured in tokenRealms. */
  private mayReceiveCredentials(realm: URL): boolean {
    if (this.base.protocol === 'https:' && realm.protocol === 'http:') return false;
    if (realm.host === this.base.host || this.anyRealmHost) return true;
    const allowed = [...(this.config.tokenRealms ?? []), ...(WELL_KNOWN_REALMS[this.base.hostname] ?? [])];
    return allowed.some((a) => { try { return new URL(a).origin === realm.origin; } catch { return false; } });
  }

  private refuse(reason: string, message: string): UpstreamAuthError {
    upstreamRefused(this.id, reason);
    return new UpstreamAuthError(this.id, 0, message);
  }

  /** Docker token protocol: GET realm?service=&scope= with Basic credentials when we have them and the realm may see them. */
  private async fetchToken(realm: string, service: string, scope: string): Promise<{ token: string; expiresIn: number }> {
    const u = new URL(realm);
    if (service) u.searchParams.set('service', service);
    if (scope) u.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    const creds = await this.credentials();
    if (creds && this.mayReceiveCredentials(u)) headers.authorization = basic(creds);
    else if (creds) upstreamRefused(this.id, 'realm_foreign_host');
    const res = await this.dispatch(u, 'GET', headers, u.origin === this.base.origin ? this.dispatcher : redirectAgent());
    const text = await readCapped(res.body, MAX_ERROR_BODY);
    if (res.status !== 200) throw new UpstreamAuthError(this.id, res.status, `token request to ${u.origin}${u.pathname} answered ${res.status}`);
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try { doc = JSON.parse(text); } catch { throw new UpstreamAuthError(this.id, res.status, 'token response is not JSON'); }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new UpstreamAuthError(this.id, res.status, 'token response holds no token');
    return { token, expiresIn: Number(doc.expires_in ?? 60) };
  }
}

export class UpstreamAuthError extends Error {
  constructor(readonly upstream: string, readonly status: number, message: string) {
    super(`upstream ${upstream}: ${message}`);
    this.name = 'UpstreamAuthError';
  }
}

/**
 * A redirect is the upstream choosing where we connect next: refused when it is not http(s),
 * downgrades https to http, or leads a non-local upstream to a loopback or link-local address
 * (cloud metadata services live there). A refusal fails this upstream; the next one is asked.
 */
function refuseRedirect(c: UpstreamClient, from: URL, to: URL): void {
  const why = to.protocol !== 'https:' && to.protocol !== 'http:' ? `a redirect to ${to.protocol} is not http(s)`
    : from.protocol === 'https:' && to.protocol === 'http:' ? `a redirect from https to ${to.origin} would downgrade to http`
      : isLocalAddress(to.hostname) && !isLocalAddress(c.base.hostname) ? `a redirect to the local address ${to.host}`
        : undefined;
  if (!why) return;
  upstreamRefused(c.id, 'redirect_refused');
  throw new UpstreamAuthError(c.id, 0, `${why}; refused`);
}

/** Loopback, unspecified and link-local ranges; BlockList also matches IPv4-mapped IPv6 forms (`::ffff:a9fe:a9fe`). */
const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addAddress('::', 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** Literal loopback, unspecified and link-local addresses, in any written form (names are not resolved here). */
export function isLocalAddress(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  const v = isIP(h);
  return v !== 0 && LOCAL.check(h, v === 4 ? 'ipv4' : 'ipv6');
}

let sharedRedirectAgent: Agent | undefined;
function redirectAgent(): Agent {
  sharedRedirectAgent ??= new Agent({ connect: { timeout: 10_000 }, headersTimeout: 30_000, bodyTimeout: 60_000 });
  return sharedRedirectAgent;
}

function describeCause(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err?.code ?? err?.cause?.code;
  const msg = err?.message ?? String(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export function header(h: UpstreamResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function drain(res: UpstreamResponse): Promise<void> {
  try { if (res.body.dump) await res.body.dump(); else res.body.resume(); } catch { /* already gone */ }
}

/** Reads an error or token body with a size cap, so a hostile upstream cannot make us buffer much. */
export async function readCapped(body: Readable, cap: number): Promise<string> {
  return (await readCappedBytes(body, cap)).toString('utf8');
}

/** The exact bytes of a body, up to `cap` (manifests must stay byte-exact: never round-trip text). */
export async function readCappedBytes(body: Readable, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = c as Buffer;
    if (n + b.length > cap) { chunks.push(b.subarray(0, cap - n)); body.destroy(); break; }
    chunks.push(b); n += b.length;
  }
  return Buffer.concat(chunks);
}

/** Docker Hub sends `ratelimit-remaining: 76;w=21600`; returns the count. */
export function parseRateLimit(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = Number(v.split(';')[0]);
  return Number.isFinite(n) ? n : undefined;
}
