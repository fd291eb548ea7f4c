import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from '../obs/logger.js';
import { FsDriver } from '../store/fs-driver.js';
import { DriverMetadataStore } from '../store/metadata.js';
import { UpstreamClient } from '../client/upstream-client.js';
import { RegistryUpstreams } from '../upstream/registry-upstreams.js';
import { BlobIndex } from '../cache/blob-index.js';
import { LocalInflight } from '../cache/inflight.js';
import { BlobService } from '../cache/blobs.js';
import { ManifestService } from '../cache/manifests.js';
import { DiscoveryService } from '../cache/discovery.js';
import type { RegistryRoute, RouteTable } from '../cache/context.js';
import { canonicalRegistry } from '../oci/reference.js';
import { buildApp } from './app.js';
import { EventBus } from '../obs/events.js';

/** A running gateway's parts, for the CLI and for tests. */
export interface Gateway {
  app: FastifyInstance;
  /** Request events; observers (audit, metrics, SLO) add themselves as sinks. */
  events: EventBus;
  index: BlobIndex;
  inflight: LocalInflight;
  routes: SwappableRoutes;
  close(): Promise<void>;
}

/** The registry table, replaced atomically as a whole (hot reload swaps it). */
export class SwappableRoutes implements RouteTable {
  private table = new Map<string, RegistryRoute>();
  get(registry: string): RegistryRoute | undefined { return this.table.get(registry); }
  swap(next: Map<string, RegistryRoute>): Map<string, RegistryRoute> { const old = this.table; this.table = next; return old; }
  all(): RegistryRoute[] { return [...this.table.values()]; }
}

export function buildRoutes(config: Config, log: Logger): Map<string, RegistryRoute> {
  const table = new Map<string, RegistryRoute>();
  for (const [name, reg] of Object.entries(config.registries)) {
    const registry = canonicalRegistry(name);
    const clients = reg.upstreams.map((u) => {
      if (u.tls.insecure) log.warn({ registry, upstream: u.url }, 'TLS verification is off for this upstream (tls.insecure): for labs only');
      const creds = u.auth ? { username: resolveSecret(u.auth.username), password: resolveSecret(u.auth.password) } : undefined;
      return new UpstreamClient(u, creds);
    });
    table.set(registry, {
      registry,
      upstreams: new RegistryUpstreams(registry, clients, log),
      tagTtl: reg.tagTtl ?? config.cache.tagTtl,
      maxStale: reg.maxStale ?? config.cache.maxStale,
    });
  }
  return table;
}

/**
 * Wires a gateway from a validated config. Starting never contacts an upstream: the gateway serves
 * what it has cached even when every upstream is down (distribution's proxy refuses to start then).
 */
export async function createGateway(config: Config, log: Logger): Promise<Gateway> {
  const driver = new FsDriver(resolve(config.storage.path));
  await driver.init();
  const meta = new DriverMetadataStore(driver);
  const index = new BlobIndex(driver, config.storage.maxSize, log);
  await index.load();
  const inflight = new LocalInflight();
  const routes = new SwappableRoutes();
  routes.swap(buildRoutes(config, log));
  const deps = { driver, meta, index, inflight, routes, log };
  const events = new EventBus();
  const app = buildApp({
    events,
    blobs: new BlobService(deps),
    manifests: new ManifestService(deps, config.cache.memoryManifests),
    discovery: new DiscoveryService(deps),
    defaultRegistry: () => config.defaultRegistry,
    log,
  });
  log.info({ blobs: index.count, bytes: index.size, registries: [...Object.keys(config.registries)] }, 'cache loaded');
  return {
    app, events, index, inflight, routes,
    close: async () => {
      await app.close();
      // Let downloads under way finish and commit: they are shared, and a restart should not waste them.
      await inflight.drain(30_000);
      await Promise.all(routes.all().map((r) => r.upstreams.close()));
    },
  };
}
