import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import type { StorageDriver } from '../store/driver.js';
import { DriverMetadataStore } from '../store/metadata.js';
import { AccessPolicy, DEFAULT_RULES } from '../auth/access.js';
import { Htpasswd } from '../auth/htpasswd.js';
import { loadOrCreateSigningKey, type SigningKey } from '../auth/signing-key.js';
import { TokenService } from '../auth/token-service.js';
import { HostedContent } from '../hosted/content.js';
import { HostedRepositories } from '../hosted/repositories.js';
import { HostedHttp } from '../hosted/http.js';
import { Uploads } from '../hosted/uploads.js';
import { collectGarbage } from '../hosted/gc.js';
import { RepoRouter } from '../oci/addressing.js';
import { Guard, type AuthParts, type FleetLimits, type GuardState } from './guard.js';

/** Hosted repositories, auth and limits, wired from the config; the gateway mounts them. */
export interface SecureParts {
  hosted?: { repos: HostedRepositories; http: HostedHttp; uploads: Uploads };
  /** The auth state of the starting configuration (the guard reads the live one). */
  auth?: AuthParts;
  guard: Guard;
  signingKey?: SigningKey;
  /** Fastify/Node server options: TLS, HTTP/2, timeouts, trusted proxies. */
  server: Record<string, unknown>;
  /** Runs GC once now (also on the configured interval). */
  gc?: () => ReturnType<typeof collectGarbage>;
  /** Applies a reloaded config's hosted settings (upload TTL and size limit, GC interval and grace). */
  reconfigure(config: Config): void;
  close(): void;
}

/** Where the token-signing key and certificate live unless the config says otherwise. */
export function defaultKeyPaths(storage: string): { key: string; cert: string } {
  const dir = join(resolve(storage), 'auth');
  return { key: join(dir, 'token.key'), cert: join(dir, 'token.crt') };
}

/** The router of a configuration: hosted patterns and the default registry. */
export function buildRouter(config: Config): RepoRouter {
  return new RepoRouter(config.defaultRegistry, config.hosted.repositories);
}

/**
 * The auth state of a configuration (htpasswd, access rules, token service), built at start and
 * again by every reload; undefined without `auth`.
 */
export async function buildAuth(config: Config, log: Logger): Promise<AuthParts | undefined> {
  const a = config.auth;
  if (!a) return undefined;
  if (!a.htpasswd) throw new Error('auth needs an htpasswd file (auth.htpasswd or --htpasswd); create one with `regway user add`');
  const htpasswd = new Htpasswd(resolve(a.htpasswd));
  await htpasswd.load().catch((e: Error) => { throw new Error(`cannot read htpasswd file ${a.htpasswd}: ${e.message}`); });
  const paths = defaultKeyPaths(config.storage.path);
  const signingKey = await loadOrCreateSigningKey(resolve(a.token.key ?? paths.key), resolve(a.token.cert ?? paths.cert), log);
  const tokens = new TokenService(signingKey, { issuer: a.token.issuer, service: a.token.service, ttlMs: a.token.ttl, refreshTtlMs: a.token.refreshTtl });
  const policy = new AccessPolicy(a.access ?? DEFAULT_RULES, a.groups, { defaultRegistry: config.defaultRegistry, pullThrough: a.pullThrough });
  const locked = policy.unreachable(Object.keys(config.registries));
  if (locked.length > 0) {
    log.warn({ registries: locked }, 'auth is on and no access rule lets anyone pull these pull-through registries: every pull through them is refused. Set auth.pullThrough (anonymous or authenticated, or --pull-through) or add a rule such as { repositories: ["docker.io/**"], anonymous: true, actions: [pull] }');
  }
  return { htpasswd, tokens, policy, realm: a.token.realm };
}

/** Hosted repositories, auth and limits; `state` is the gateway's live state (the guard reads it per request). */
export async function createSecureParts(config: Config, driver: StorageDriver, log: Logger, state: () => GuardState, fleet?: FleetLimits): Promise<SecureParts> {
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<unknown>) => {
    if (ms <= 0) return;
    const t = setInterval(() => void fn().catch((e: Error) => log.warn({ err: e.message }, 'background task failed')), ms);
    t.unref();
    timers.push(t);
  };
  let hosted: SecureParts['hosted'];
  let gc: SecureParts['gc'];
  let h = config.hosted;
  let gcTimer: NodeJS.Timeout | undefined;
  const startGc = () => {
    if (gcTimer) clearInterval(gcTimer);
    gcTimer = undefined;
    if (!gc || h.gcInterval <= 0) return;
    const run = gc;
    gcTimer = setInterval(() => void run().catch((e: Error) => log.warn({ err: e.message }, 'hosted garbage collection failed')), h.gcInterval);
    gcTimer.unref();
  };
  if (h.repositories.length > 0) {
    // Hosted metadata goes straight to the driver, never through a shared cache (a fleet's Redis
    // tag cache): a pushed or deleted tag must be visible at once, not after a TTL.
    const meta = new DriverMetadataStore(driver);
    const content = new HostedContent(driver);
    const repos = new HostedRepositories(content, meta);
    const idleMs = config.limits.idleTimeout;
    const uploads = new Uploads(driver, content, { ttlMs: h.uploadTtl, maxBlobSize: h.maxBlobSize, idleMs, maxSessions: h.maxUploadSessions });
    repos.onDamaged = (d, size, recorded) => log.error({ digest: d.value, size, recorded }, 'hosted content is damaged (its size is not the recorded one): not served; push it again or restore it from a backup');
    hosted = { repos, uploads, http: new HostedHttp(repos, uploads, { maxBlobSize: h.maxBlobSize, idleMs }) };
    const purged = await uploads.purgeExpired();
    if (purged) log.info({ purged }, 'removed expired upload sessions');
    every(Math.min(h.uploadTtl, 3_600_000), () => uploads.purgeExpired());
    gc = async () => {
      const r = await collectGarbage(meta, content, { graceMs: h.gcGrace });
      log.info(r, 'hosted garbage collection done');
      return r;
    };
    startGc();
    log.info({ patterns: h.repositories }, 'hosted repositories enabled');
  }
  const auth = state().auth;
  if (auth) {
    const key = auth.tokens.key;
    log.info({ htpasswd: config.auth!.htpasswd, signingCert: key.certPath, kid: key.kid, service: auth.tokens.settings.service, issuer: auth.tokens.settings.issuer }, 'client authentication on (Basic and Bearer tokens)');
  } else if (hosted && !/^(127\.|\[::1\]|localhost)/.test(config.listen)) {
    log.warn({ listen: config.listen }, 'hosted repositories without auth on a non-loopback address: anyone who can connect may push and delete');
  }
  return {
    hosted, gc, auth, signingKey: auth?.tokens.key,
    guard: new Guard(state, config.limits, fleet),
    server: serverOptions(config),
    reconfigure: (next) => {
      const gcChanged = next.hosted.gcInterval !== h.gcInterval;
      h = next.hosted;
      if (hosted) {
        hosted.uploads.configure({ ttlMs: h.uploadTtl, maxBlobSize: h.maxBlobSize, maxSessions: h.maxUploadSessions });
        hosted.http.configure({ maxBlobSize: h.maxBlobSize });
      }
      if (gcChanged) startGc();
    },
    close: () => { for (const t of timers) clearInterval(t); if (gcTimer) clearInterval(gcTimer); },
  };
}

/**
 * TLS 1.2 suites offered: AEAD only (no CBC); TLS 1.3 suites are all AEAD. Forward secrecy
 * (ECDHE) throughout. The same list Mozilla's "intermediate" profile keeps.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Server options: TLS (HTTP/2 via ALPN with HTTP/1.1 fallback) and timeouts (trusted proxies: app.ts). */
export function serverOptions(config: Config): Record<string, unknown> {
  const l = config.limits;
  const headersTimeout = l.requestTimeout > 0 ? Math.min(l.headersTimeout, l.requestTimeout) : l.headersTimeout;
  // Node checks header/request deadlines on this interval (30 s by default): keep it well under
  // the headers timeout, or a slowloris client gets up to 30 s extra.
  const node = { headersTimeout, requestTimeout: l.requestTimeout, connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(headersTimeout / 4))) };
  const base: Record<string, unknown> = {
    connectionTimeout: l.idleTimeout,
    keepAliveTimeout: l.keepAliveTimeout,
    requestTimeout: l.requestTimeout,
    http2SessionTimeout: l.idleTimeout,
  };
  if (!config.tls) return { ...base, http: node };
  const tls = { ...readTlsFiles(config.tls), minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true };
  // One client held 80,000 streams on one connection without a limit: advertise one (distribution: 250).
  const h2 = { settings: { maxConcurrentStreams: l.http2MaxStreams }, maxSessionMemory: 32 };
  if (config.tls.http2) return { ...base, http2: true, https: { ...tls, ...h2, allowHTTP1: true } };
  return { ...base, https: { ...tls, ...node } };
}

/** The certificate and key as the server will use them. */
export function readTlsFiles(t: NonNullable<Config['tls']>): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(t.cert), key: readFileSync(t.key) };
}

/** Problems with the certificate and key an operator should hear about at start (and at reload). */
export function tlsWarnings(t: NonNullable<Config['tls']>, now = Date.now()): string[] {
  const out: string[] = [];
  try {
    const cert = new X509Certificate(readFileSync(t.cert));
    const until = Date.parse(cert.validTo);
    if (until < now) out.push(`the TLS certificate ${t.cert} expired on ${cert.validTo}: clients will refuse it; replace it and reload`);
    else if (until - now < 14 * 86_400_000) out.push(`the TLS certificate ${t.cert} expires on ${cert.validTo}: replace it and reload`);
    if (Date.parse(cert.validFrom) > now) out.push(`the TLS certificate ${t.cert} is not valid before ${cert.validFrom}`);
  } catch (e) {
    out.push(`the TLS certificate ${t.cert} cannot be read as a certificate: ${(e as Error).message}`);
  }
  try {
    if ((statSync(t.key).mode & 0o077) !== 0) out.push(`the TLS key ${t.key} is readable by other users (mode ${(statSync(t.key).mode & 0o777).toString(8)}): chmod 600 it`);
  } catch { /* readTlsFiles reports a missing key */ }
  return out;
}

/**
 * Plain HTTP sent to the TLS port got a silent close. The first byte of a connection tells: a TLS
 * handshake starts with 0x16; anything else gets a 400 that says to use https. Connections that
 * send nothing are closed after the headers timeout (the TLS layer's own timeout has not started).
 */
export function answerPlainHttpOnTlsPort(server: Server, timeoutMs: number): void {
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) { socket.destroy(); return; }
      socket.unshift(first);
      socket.setTimeout(0);
      if (first[0] !== 0x16) {
        const body = 'This port speaks TLS (HTTPS): use https:// to reach it.\n';
        // Destroyed once flushed: the socket is paused, so the client's FIN would never be read.
        socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy());
        return;
      }
      for (const l of tlsListeners) l.call(server, socket);
    });
  });
}
