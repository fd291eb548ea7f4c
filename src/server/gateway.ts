import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import { openStorage } from '../store/open-driver.js';
import type { StorageDriver } from '../store/driver.js';
import { BlobStore } from '../store/blob-store.js';
import type { BlobIndex } from '../cache/blob-index.js';
import { openCacheIndex, type CacheIndex } from './cache-index.js';
import { LocalInflight } from '../cache/inflight.js';
import type { BlobService } from '../cache/blobs.js';
import { PullThroughCache } from '../cache/registry.js';
import { DescriptorSizes } from '../cache/descriptor-sizes.js';
import type { FetchCoordinator } from '../cluster/coordinator.js';
import type { SigningKey } from '../auth/signing-key.js';
import { buildApp } from '../gateway/app.js';
import { Guard, type GuardState } from '../gateway/guard.js';
import { EventBus } from '../obs/events.js';
import { attachObservability, type Observability } from '../obs/plugin.js';
import { UpstreamObservers } from '../obs/upstream-observers.js';
import { buildAuth, buildRouter } from './auth.js';
import { createHosted, type HostedParts } from './hosted.js';
import { joinFleet, peerToken } from './fleet.js';
import { joinP2p } from './p2p.js';
import { buildRoutes, SwappableRoutes } from './routes.js';
import { serverOptions, TlsFiles } from './tls.js';
import { reloader } from './reload.js';
import { PolicyReader } from '../policy/reader.js';
import { compilePolicies, type PolicySet } from '../policy/rules.js';
import { policyChecker, type PolicyReport } from './policy.js';

export { fleetKeyPrefix } from './fleet.js';
export { buildRoutes, SwappableRoutes } from './routes.js';

/** A running gateway's parts, for the CLI and for tests. */
export interface Gateway {
  app: FastifyInstance;
  /** Request events; observers (audit, metrics, SLO) add themselves as sinks. */
  events: EventBus;
  index: BlobIndex;
  /** The index behind `index`, the metadata reads and the catalog (SQLite, or the fleet's in Redis): status and rebuild. */
  cacheIndex: CacheIndex;
  inflight: LocalInflight;
  routes: SwappableRoutes;
  /** Fleet coordination; `healthy()` is false while Redis is unreachable (degraded, serving alone). */
  coordinator: FetchCoordinator;
  /** Audit log, alerts, metrics, SLO and status page wired onto this gateway. */
  obs: Observability;
  /** Sign-in and limits (the guard), the token-signing key, hosted repositories and their GC. */
  secure: { guard: Guard; signingKey?: SigningKey; hosted?: HostedParts; gc?: HostedParts['gc'] };
  /** The pull policy's verdict on an image as clients name it, without serving it (regway policy check). */
  policy: { check(image: string): Promise<PolicyReport> };
  /** The pull-through read side and the store, for tools that fill or repair the cache in process (verify). */
  cache: { blobs: BlobService; driver: StorageDriver };
  /**
   * Applies a new (already validated) config: registries, routing, access rules, token settings,
   * users, hosted settings, rate limits and the certificate swap together; in-flight pulls finish
   * on the old ones. Settings that need a restart keep their running value and are listed as such.
   */
  reload(next: Config): Promise<{ changed: string[]; needsRestart: string[] }>;
  /** The configuration running now (after reloads; restart-only settings at their start values). */
  currentConfig(): Config;
  close(): Promise<void>;
}

/**
 * The composition root: wires a gateway from a validated config, feature by feature (pull-through
 * cache, hosted repositories, sign-in, fleet, TLS, observability). Starting never contacts an
 * upstream: the gateway serves what it has cached even when every upstream is down
 * (distribution's proxy refuses to start then).
 */
export async function createGateway(config: Config, log: Logger): Promise<Gateway> {
  const fleetToken = config.cluster ? peerToken(config.cluster) : undefined;
  const storage = await openStorage(config.storage, log);
  const driver = storage.driver;
  const blobs = new BlobStore(driver, 'cache');
  const inflight = new LocalInflight();
  const fleet = await joinFleet(config, fleetToken, { blobs, inflight, log });
  const p2p = joinP2p(config, log, { blobs, inflight });
  // Instances sharing one bucket share one index in Redis (no instance lists the bucket to start);
  // one instance, or a fleet on its own disks, keeps its SQLite index beside the store.
  const cacheIndex = fleet.sharedIndex ? await fleet.sharedIndex(driver, blobs) : await openCacheIndex(config, driver, blobs, log);
  const index = cacheIndex.blobs;
  const files = cacheIndex.meta;
  const meta = fleet.metadata(files);

  // Pull-through: the registry table (swapped on reload) and the cache over it.
  const routes = new SwappableRoutes();
  const upstreamObservers = new UpstreamObservers();
  const install = (c: Config) => {
    const table = buildRoutes(c, log, fleet.tokens, upstreamObservers, driver.presignGet ? blobs : undefined);
    for (const r of table.values()) r.upstreams.startProbes(c.health.probeInterval);
    return routes.swap(table);
  };
  install(config);
  const pull = new PullThroughCache({ blobs, meta, index, inflight, routes, log, fleet: p2p?.source ?? fleet.source, sizes: new DescriptorSizes() }, config.cache.memoryManifests);

  // Sign-in and routing, read per request from `live`; a reload replaces it as a whole.
  const live: { state: GuardState } = { state: { router: buildRouter(config), auth: await buildAuth(config, log) } };
  const guard = new Guard(() => live.state, config.limits, fleet.limits);
  const hosted = await createHosted(config, driver, files, log);
  // Pull policy: both readers serve manifests only as the policy allows; the set is swapped on reload.
  const policies: { set: PolicySet } = { set: compilePolicies(config.policies) };
  const policed = { pull: new PolicyReader(pull, () => policies.set), hosted: hosted ? new PolicyReader(hosted.repos, () => policies.set) : undefined };
  logSignIn(config, live.state, hosted !== undefined, log);

  const events = new EventBus();
  const app = buildApp({
    pull: policed.pull, events, guard, log,
    hosted: hosted ? { reader: policed.hosted!, http: hosted.http } : undefined,
    catalog: cacheIndex.catalog,
    router: () => live.state.router,
    server: serverOptions(config),
    trustProxy: config.trustedProxies,
  });
  fleet.registerPeers(app);
  p2p?.register(app);
  const tls = new TlsFiles(config, app.server, log);
  log.info({ blobs: index.count, bytes: index.size, registries: [...Object.keys(config.registries)], cluster: fleet.coordinator.self?.instance }, 'cache loaded');
  const obs = await attachObservability({ app, events, index, indexStatus: () => cacheIndex.status(), inflight, routes, coordinator: fleet.coordinator, windows: fleet.windows, upstreamObservers, p2p: p2p?.status }, config, log);
  const reload = reloader({ config, log, live, guard, hosted, tls, install, policies });
  return {
    app, events, index, cacheIndex, inflight, routes, obs, coordinator: fleet.coordinator,
    secure: { guard, signingKey: live.state.auth?.tokens.key, hosted, gc: hosted?.gc },
    policy: { check: policyChecker(policed, () => live.state.router) },
    cache: { blobs: pull.blobs, driver },
    currentConfig: reload.current,
    reload: reload.apply,
    close: async () => {
      hosted?.close();
      await app.close();
      // Let downloads under way finish and commit: they are shared, and a restart should not waste them.
      await inflight.drain(30_000);
      await obs.close(); // after the drain: the last requests' events are audited and saved
      await Promise.all(routes.all().map((r) => r.upstreams.close()));
      await cacheIndex.close();
      storage.close();
      await fleet.close();
    },
  };
}

function logSignIn(config: Config, state: GuardState, hosted: boolean, log: Logger): void {
  const auth = state.auth;
  if (auth) {
    const key = auth.tokens.key;
    log.info({ htpasswd: config.auth!.htpasswd, signingCert: key.certPath, kid: key.kid, service: auth.tokens.settings.service, issuer: auth.tokens.settings.issuer }, 'client authentication on (Basic and Bearer tokens)');
  } else if (hosted && !/^(127\.|\[::1\]|localhost)/.test(config.listen)) {
    log.warn({ listen: config.listen }, 'hosted repositories without auth on a non-loopback address: anyone who can connect may push and delete');
  }
}
