import type { FastifyInstance } from 'fastify';
import type { Config, UpstreamConfig } from '../config/schema.js';
import { CredentialChain, DockerConfigSource, AuthFileSource, HelperSource, StaticSource, type CredentialSource } from '../auth/credentials.js';
import { Upstream } from '../upstream/upstream.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from '../obs/logger.js';
import { openStorage } from '../store/open-driver.js';
import type { StorageDriver } from '../store/driver.js';
import { BlobStore } from '../store/blob-store.js';
import { DriverMetadataStore } from '../store/metadata.js';
import { UpstreamClient } from '../client/upstream-client.js';
import { RegistryUpstreams } from '../upstream/registry-upstreams.js';
import { BlobIndex } from '../cache/blob-index.js';
import { LocalInflight } from '../cache/inflight.js';
import type { BlobService } from '../cache/blobs.js';
import { PullThroughCache } from '../cache/registry.js';
import { DescriptorSizes } from '../cache/descriptor-sizes.js';
import type { FleetSource, RegistryRoute, RouteTable } from '../cache/context.js';
import { canonicalRegistry } from '../oci/reference.js';
import { buildApp } from './app.js';
import { TLS_CIPHERS, answerPlainHttpOnTlsPort, buildAuth, buildRouter, createSecureParts, readTlsFiles, tlsWarnings, type SecureParts } from './secure.js';
import type { Server as SecureServer } from 'node:tls';
import type { GuardState } from './guard.js';
import { classifyChanges, withRunningValues } from '../config/changes.js';
import { EventBus } from '../obs/events.js';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { SoloCoordinator, type FetchCoordinator } from '../cluster/coordinator.js';
import { clusterSource, registerPeerRoutes } from '../cluster/peer.js';
import { defaultPeerNetworks } from '../cluster/peer-auth.js';
import { withRedisTags } from '../cluster/redis-tags.js';
import { redisTokens } from '../cluster/redis-tokens.js';
import { RedisCounterStore } from '../cluster/redis-counters.js';
import { CounterSync } from '../cluster/counter-sync.js';
import { RedisLoginAttempts } from '../cluster/redis-backoff.js';
import type { LoginBackoff } from '../limits/token-bucket.js';
import { TokenCache, type SharedTokens } from '../auth/tokens.js';
import { attachObservability, type Observability } from '../obs/plugin.js';
import { UpstreamObservers } from '../obs/upstream-observers.js';

/** A running gateway's parts, for the CLI and for tests. */
export interface Gateway {
  app: FastifyInstance;
  /** Request events; observers (audit, metrics, SLO) add themselves as sinks. */
  events: EventBus;
  index: BlobIndex;
  inflight: LocalInflight;
  routes: SwappableRoutes;
  /** Fleet coordination; `healthy()` is false while Redis is unreachable (degraded, serving alone). */
  coordinator: FetchCoordinator;
  /** Audit log, alerts, metrics, SLO and status page wired onto this gateway. */
  obs: Observability;
  /** Hosted repositories, auth (token-signing key), limits and server options. */
  secure: SecureParts;
  /** The pull-through read side and the store, for tools that fill or repair the cache in process (verify). */
  cache: { blobs: BlobService; driver: StorageDriver };
  /**
   * Applies a new (already validated) config: registries, routing, access rules, token settings,
   * users, hosted settings and rate limits swap together; in-flight pulls finish on the old ones.
   * Settings that need a restart keep their running value and are listed as such.
   */
  reload(next: Config): Promise<{ changed: string[]; needsRestart: string[] }>;
  /** The configuration running now (after reloads; restart-only settings at their start values). */
  currentConfig(): Config;
  close(): Promise<void>;
}

/** The registry table, replaced atomically as a whole (hot reload swaps it). */
export class SwappableRoutes implements RouteTable {
  private table = new Map<string, RegistryRoute>();
  get(registry: string): RegistryRoute | undefined { return this.table.get(registry); }
  swap(next: Map<string, RegistryRoute>): Map<string, RegistryRoute> { const old = this.table; this.table = next; return old; }
  all(): RegistryRoute[] { return [...this.table.values()]; }
}

/** Where an upstream's credentials come from: its own `auth`, else the configured files by host. */
function credentialSources(config: Config, u: UpstreamConfig): CredentialSource[] {
  if (u.auth && 'helper' in u.auth) return [new HelperSource(u.auth.helper)];
  if (u.auth) return [new StaticSource({ username: resolveSecret(u.auth.username), password: resolveSecret(u.auth.password) })];
  const sources: CredentialSource[] = [];
  if (config.credentials.dockerConfig) sources.push(new DockerConfigSource(config.credentials.dockerConfig));
  for (const f of config.credentials.authFiles) sources.push(new AuthFileSource(f));
  return sources;
}

export function buildRoutes(config: Config, log: Logger, sharedTokens?: SharedTokens, observers?: UpstreamObservers): Map<string, RegistryRoute> {
  const table = new Map<string, RegistryRoute>();
  for (const [name, reg] of Object.entries(config.registries)) {
    const registry = canonicalRegistry(name);
    const clients = reg.upstreams.map((u) => {
      if (u.tls.insecure) log.warn({ registry, upstream: u.url }, 'TLS verification is off for this upstream (tls.insecure): for labs only');
      const chain = new CredentialChain(credentialSources(config, u));
      const client = new UpstreamClient(u, {
        credentials: chain.empty ? undefined : (host) => chain.get(host),
        tokens: new TokenCache(undefined, sharedTokens),
      });
      return new Upstream(client, { failureThreshold: config.health.failureThreshold, openFor: config.health.openFor }, observers);
    });
    table.set(registry, {
      registry,
      upstreams: new RegistryUpstreams(registry, clients, log),
      tagTtl: reg.tagTtl ?? config.cache.tagTtl,
      maxStale: reg.maxStale ?? config.cache.maxStale,
      negativeTtl: reg.negativeTtl ?? config.cache.negativeTtl,
    });
  }
  return table;
}

/**
 * The fleet's Redis key namespace: `cluster.namespace`, else what makes a fleet one fleet — the
 * shared bucket and prefix (S3), or the shared peer token (instances on their own disks) — so prod
 * and staging on one Redis never share leases, tag freshness, tokens or counters.
 */
export function fleetKeyPrefix(config: Config): string {
  const s = config.storage;
  const c = config.cluster;
  if (!c) return 'regway:';
  const token = createHash('sha256').update(resolveSecret(c.peerToken)).digest('hex').slice(0, 16);
  const ns = c.namespace ?? (s.driver === 's3' && s.s3 ? `s3:${s.s3.bucket}/${s.s3.prefix}` : `peers:${token}`);
  return `regway:{${ns}}:`;
}

/**
 * The fleet's shared secret, refused when it is empty or short: with an empty one (an unset
 * variable, an empty secret file) the peer endpoint would serve any blob to anyone.
 */
function peerToken(fc: NonNullable<Config['cluster']>): string {
  const t = resolveSecret(fc.peerToken);
  if (t.length < 16) throw new Error(`cluster.peerToken is ${t.length === 0 ? 'empty' : `only ${t.length} characters`}: give every instance the same secret of at least 16 characters (e.g. openssl rand -hex 32)`);
  return t;
}

/**
 * Wires a gateway from a validated config. Starting never contacts an upstream: the gateway serves
 * what it has cached even when every upstream is down (distribution's proxy refuses to start then).
 */
export async function createGateway(config: Config, log: Logger): Promise<Gateway> {
  // Refused before anything is opened (a half-built gateway would keep its connections).
  const fleetToken = config.cluster ? peerToken(config.cluster) : undefined;
  const storage = await openStorage(config.storage, log);
  const driver = storage.driver;
  // ioredis is ~12 MB resident once loaded: only a fleet loads it.
  const fc = config.cluster;
  const fleetCoordinator = fc
    ? new (await import('../cluster/redis-coordinator.js')).RedisCoordinator(fc.redis, { instance: fc.instanceId ?? `${hostname()}:${process.pid}`, url: fc.advertiseUrl }, fc.leaseTtl, log, fleetKeyPrefix(config), { username: fc.redisUser, password: fc.redisPassword ? resolveSecret(fc.redisPassword) : undefined })
    : undefined;
  const coordinator: FetchCoordinator = fleetCoordinator ?? new SoloCoordinator();
  /** The fleet's Redis connection, shared by everything the instances share; undefined alone. */
  const redis = fleetCoordinator?.redis;
  // In a fleet, tag freshness is shared through Redis so the fleet revalidates once per TTL.
  const prefix = fleetKeyPrefix(config);
  const meta = redis ? withRedisTags(new DriverMetadataStore(driver), redis, config.cache.maxStale, prefix) : new DriverMetadataStore(driver);
  const blobStore = new BlobStore(driver, 'cache');
  const index = new BlobIndex(blobStore, config.storage.maxSize, log);
  await index.load();
  const inflight = new LocalInflight();
  const routes = new SwappableRoutes();
  const upstreamObservers = new UpstreamObservers();
  let current = config;
  // Routing and auth are read per request from here; reload replaces the object as a whole.
  let live: GuardState = { router: buildRouter(config), auth: await buildAuth(config, log) };
  const install = (c: Config) => {
    const table = buildRoutes(c, log, redis ? redisTokens(redis, prefix) : undefined, upstreamObservers);
    for (const r of table.values()) r.upstreams.startProbes(c.health.probeInterval);
    return routes.swap(table);
  };
  install(config);
  const cluster = fc && fleetToken ? { coordinator, token: fleetToken, blobs: blobStore, log, leaseTtl: fc.leaseTtl, peerNetworks: fc.peerNetworks ?? defaultPeerNetworks(fc.advertiseUrl) } : undefined;
  const fleetSource: FleetSource | undefined = cluster ? {
    wrap: (digest, upstream, onOwner, confirm) => clusterSource(cluster, digest, upstream, (claim) => { if (claim.kind === 'owner') onOwner(claim.release); }, confirm),
  } : undefined;
  const deps = { blobs: blobStore, meta, index, inflight, routes, log, fleet: fleetSource, sizes: new DescriptorSizes() };
  const events = new EventBus();
  // In a fleet, rate limits and alert counters count the whole fleet's traffic (synced, never inline).
  const counters = redis && fc ? new CounterSync(new RedisCounterStore(redis, `${prefix}count:`), fc.syncInterval, log) : undefined;
  counters?.start();
  const fleet = counters && redis ? {
    limiter: (scope: 'ip' | 'user', rate: number, burst: number) => counters.limiter(scope, rate, burst),
    loginAttempts: (local: LoginBackoff) => new RedisLoginAttempts(redis, local, `${prefix}login:`),
  } : undefined;
  const secure = await createSecureParts(config, driver, log, () => live, fleet);
  const pull = new PullThroughCache(deps, config.cache.memoryManifests);
  const app = buildApp({
    hosted: secure.hosted ? { reader: secure.hosted.repos, http: secure.hosted.http } : undefined,
    guard: secure.guard,
    server: secure.server,
    events,
    pull,
    router: () => live.router,
    log,
    trustProxy: config.trustedProxies,
  });
  if (cluster) registerPeerRoutes(app, { inflight, blobs: blobStore, token: cluster.token });
  // The certificate and key being served, for reloads to compare with (a renewal replaces the files).
  let tlsFiles = config.tls ? readTlsFiles(config.tls) : undefined;
  if (config.tls) {
    answerPlainHttpOnTlsPort(app.server, config.limits.headersTimeout);
    for (const w of tlsWarnings(config.tls)) log.warn(w);
  }
  log.info({ blobs: index.count, bytes: index.size, registries: [...Object.keys(config.registries)], cluster: coordinator.self?.instance }, 'cache loaded');
  const windows = counters && ((name: string, ms: number, slots: number, max: number) => counters.window(name, ms, slots, max));
  const obs = await attachObservability({ app, events, index, inflight, routes, coordinator, windows, upstreamObservers }, config, log);
  return {
    app, events, index, inflight, routes, obs, secure, coordinator, cache: { blobs: pull.blobs, driver },
    currentConfig: () => current,
    reload: async (requested) => {
      const canApply = (path: string): boolean => {
        if (path === 'auth' || path === 'tls' || path === 'tls.http2') return false; // on/off installs routes and hooks
        if (path === 'tls.cert' || path === 'tls.key') return tlsFiles !== undefined;
        if (path === 'hosted.repositories') return secure.hosted !== undefined || requested.hosted.repositories.length === 0;
        if (path.startsWith('limits.')) return secure.guard.canApply(requested.limits, live.auth !== undefined);
        return true;
      };
      const { applied, needsRestart } = classifyChanges(current, requested, canApply);
      // What runs from now on: the new config, except settings that wait for a restart.
      const next = withRunningValues(requested, current, needsRestart);
      // A certificate replaced in place (same paths) is a change too: it is what renewals do.
      const tlsNext = tlsFiles && next.tls ? readTlsFiles(next.tls) : undefined;
      const newCert = tlsNext && tlsFiles && !(tlsNext.cert.equals(tlsFiles.cert) && tlsNext.key.equals(tlsFiles.key));
      // Build everything before swapping anything: a failure leaves the running state untouched.
      const auth = live.auth ? await buildAuth(next, log) : undefined;
      const router = buildRouter(next);
      const old = install(next);
      live = { router, auth };
      secure.guard.configure(next.limits);
      secure.reconfigure(next);
      if (newCert && tlsNext) {
        (app.server as unknown as SecureServer).setSecureContext({ ...tlsNext, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true });
        tlsFiles = tlsNext;
        if (!applied.includes('tls.cert')) applied.push('tls.certificate');
        for (const w of tlsWarnings(next.tls!)) log.warn(w);
      }
      log.level = next.log.level;
      current = next;
      // Requests under way hold their old route and finish on it; close its connections later.
      const timer = setTimeout(() => { for (const r of old.values()) void r.upstreams.close(); }, 120_000);
      timer.unref();
      log.info({ changed: applied, needsRestart }, 'configuration reloaded: new requests use the new settings');
      if (needsRestart.length) log.warn({ needsRestart }, 'these settings only take effect after a restart');
      return { changed: applied, needsRestart };
    },
    close: async () => {
      secure.close();
      await app.close();
      // Let downloads under way finish and commit: they are shared, and a restart should not waste them.
      await inflight.drain(30_000);
      await obs.close(); // after the drain: the last requests' events are audited and saved
      await counters?.close();
      await Promise.all(routes.all().map((r) => r.upstreams.close()));
      storage.close();
      await coordinator.close();
    },
  };
}
