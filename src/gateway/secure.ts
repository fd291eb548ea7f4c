import { readFileSync } from 'node:fs';
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
import { Guard, type FleetLimits } from './guard.js';

/** Hosted repositories, auth and limits, wired from the config; the gateway mounts them. */
export interface SecureParts {
  hosted?: { repos: HostedRepositories; http: HostedHttp; uploads: Uploads };
  guard: Guard;
  signingKey?: SigningKey;
  /** Fastify/Node server options: TLS, HTTP/2, timeouts, trusted proxies. */
  server: Record<string, unknown>;
  /** Runs GC once now (also on the configured interval). */
  gc?: () => ReturnType<typeof collectGarbage>;
  close(): void;
}

/** Where the token-signing key and certificate live unless the config says otherwise. */
export function defaultKeyPaths(storage: string): { key: string; cert: string } {
  const dir = join(resolve(storage), 'auth');
  return { key: join(dir, 'token.key'), cert: join(dir, 'token.crt') };
}

export async function createSecureParts(config: Config, driver: StorageDriver, log: Logger, fleet?: FleetLimits): Promise<SecureParts> {
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<unknown>) => {
    if (ms <= 0) return;
    const t = setInterval(() => void fn().catch((e: Error) => log.warn({ err: e.message }, 'background task failed')), ms);
    t.unref();
    timers.push(t);
  };
  let hosted: SecureParts['hosted'];
  let gc: SecureParts['gc'];
  const h = config.hosted;
  if (h.repositories.length > 0) {
    // Hosted metadata goes straight to the driver, never through a shared cache (a fleet's Redis
    // tag cache): a pushed or deleted tag must be visible at once, not after a TTL.
    const meta = new DriverMetadataStore(driver);
    const content = new HostedContent(driver);
    const repos = new HostedRepositories(h.repositories, content, meta);
    const idleMs = config.limits.idleTimeout;
    const uploads = new Uploads(driver, content, { ttlMs: h.uploadTtl, maxBlobSize: h.maxBlobSize, idleMs });
    hosted = { repos, uploads, http: new HostedHttp(repos, uploads, { maxBlobSize: h.maxBlobSize, idleMs }) };
    const purged = await uploads.purgeExpired();
    if (purged) log.info({ purged }, 'removed expired upload sessions');
    every(Math.min(h.uploadTtl, 3_600_000), () => uploads.purgeExpired());
    gc = async () => {
      const r = await collectGarbage(driver, meta, content, { graceMs: h.gcGrace });
      log.info(r, 'hosted garbage collection done');
      return r;
    };
    every(h.gcInterval, gc);
    log.info({ patterns: h.repositories }, 'hosted repositories enabled');
  }
  let auth: ConstructorParameters<typeof Guard>[0];
  let signingKey: SigningKey | undefined;
  if (config.auth) {
    const a = config.auth;
    if (!a.htpasswd) throw new Error('auth needs an htpasswd file (auth.htpasswd or --htpasswd); create one with `regway user add`');
    const htpasswd = new Htpasswd(resolve(a.htpasswd));
    await htpasswd.load().catch((e: Error) => { throw new Error(`cannot read htpasswd file ${a.htpasswd}: ${e.message}`); });
    const paths = defaultKeyPaths(config.storage.path);
    signingKey = await loadOrCreateSigningKey(resolve(a.token.key ?? paths.key), resolve(a.token.cert ?? paths.cert), log);
    const tokens = new TokenService(signingKey, { issuer: a.token.issuer, service: a.token.service, ttlMs: a.token.ttl, refreshTtlMs: a.token.refreshTtl });
    auth = { htpasswd, tokens, policy: new AccessPolicy(a.access ?? DEFAULT_RULES, a.groups), realm: a.token.realm };
    log.info({ htpasswd: a.htpasswd, signingCert: signingKey.certPath, kid: signingKey.kid, service: a.token.service, issuer: a.token.issuer }, 'client authentication on (Basic and Bearer tokens)');
  } else if (hosted && !/^(127\.|\[::1\]|localhost)/.test(config.listen)) {
    log.warn({ listen: config.listen }, 'hosted repositories without auth on a non-loopback address: anyone who can connect may push and delete');
  }
  return {
    hosted, gc, signingKey,
    guard: new Guard(auth, config.limits, fleet),
    server: serverOptions(config),
    close: () => { for (const t of timers) clearInterval(t); },
  };
}

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
  const tls = { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.cert), minVersion: 'TLSv1.2' };
  if (config.tls.http2) return { ...base, http2: true, https: { ...tls, allowHTTP1: true } };
  return { ...base, https: { ...tls, ...node } };
}
