import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from '../obs/logger.js';
import type { BlobStore } from '../store/blob-store.js';
import type { MetadataStore } from '../store/metadata.js';
import type { StorageDriver } from '../store/driver.js';
import type { CacheIndex } from './cache-index.js';
import { openFleetIndex } from './fleet-index.js';
import type { SharedTokens } from '../auth/tokens.js';
import type { InflightFetches } from '../cache/inflight.js';
import type { FleetSource } from '../cache/context.js';
import type { LoginBackoff } from '../limits/token-bucket.js';
import type { FleetLimits } from '../gateway/guard.js';
import type { WindowFactory } from '../obs/alerts/engine.js';
import { SoloCoordinator, type FetchCoordinator } from '../cluster/coordinator.js';
import { clusterSource, registerPeerRoutes } from '../cluster/peer.js';
import { defaultPeerNetworks } from '../cluster/peer-auth.js';
import { withRedisTags } from '../cluster/redis-tags.js';
import { redisTokens } from '../cluster/redis-tokens.js';
import { RedisCounterStore } from '../cluster/redis-counters.js';
import { CounterSync } from '../cluster/counter-sync.js';
import { RedisLoginAttempts } from '../cluster/redis-backoff.js';

/**
 * What several instances share, wired for one of them: fetch leases and the peer endpoint, tag
 * freshness, upstream tokens, rate-limit and alert counters, failed logins. A single instance gets
 * the degenerate version of each (solo coordinator, its own store and counters).
 */
export interface Fleet {
  coordinator: FetchCoordinator;
  /** Tag freshness shared through Redis over the store's metadata. */
  metadata(inner: MetadataStore): MetadataStore;
  /** Upstream tokens shared by the fleet. */
  tokens?: SharedTokens;
  /** The fleet's part in blob downloads, for the cache. */
  source?: FleetSource;
  /** Rate limits and failed-login bookkeeping counted fleet-wide. */
  limits?: FleetLimits;
  /** Alert windows counted fleet-wide. */
  windows?: WindowFactory;
  /** A fleet on one shared bucket: the index (LRU, catalog) shared in Redis instead of one per instance. */
  sharedIndex?(driver: StorageDriver, blobs: BlobStore): Promise<CacheIndex>;
  /** The internal endpoint peers stream in-flight blobs from. */
  registerPeers(app: FastifyInstance): void;
  close(): Promise<void>;
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
 * variable, an empty secret file) the peer endpoint would serve any blob to anyone. Called before
 * anything is opened (a half-built gateway would keep its connections).
 */
export function peerToken(fc: { peerToken: Parameters<typeof resolveSecret>[0] }, section = 'cluster', who = 'every instance'): string {
  const t = resolveSecret(fc.peerToken);
  if (t.length < 16) throw new Error(`${section}.peerToken is ${t.length === 0 ? 'empty' : `only ${t.length} characters`}: give ${who} the same secret of at least 16 characters (e.g. openssl rand -hex 32)`);
  return t;
}

export async function joinFleet(config: Config, token: string | undefined, deps: { blobs: BlobStore; inflight: InflightFetches; log: Logger }): Promise<Fleet> {
  const fc = config.cluster;
  if (!fc || !token) {
    return { coordinator: new SoloCoordinator(), metadata: (m) => m, registerPeers: () => {}, close: async () => {} };
  }
  const { blobs, inflight, log } = deps;
  const prefix = fleetKeyPrefix(config);
  // ioredis is ~12 MB resident once loaded: only a fleet loads it.
  const { RedisCoordinator } = await import('../cluster/redis-coordinator.js');
  const instance = fc.instanceId ?? `${hostname()}:${process.pid}`;
  const coordinator = new RedisCoordinator(fc.redis, { instance, url: fc.advertiseUrl }, fc.leaseTtl, log, prefix,
    { username: fc.redisUser, password: fc.redisPassword ? resolveSecret(fc.redisPassword) : undefined });
  const redis = coordinator.redis;
  const cluster = { coordinator, token, blobs, log, leaseTtl: fc.leaseTtl, peerNetworks: fc.peerNetworks ?? defaultPeerNetworks(fc.advertiseUrl) };
  // Rate limits and alert counters count the whole fleet's traffic (synced, never inline).
  const counters = new CounterSync(new RedisCounterStore(redis, `${prefix}count:`), fc.syncInterval, log);
  counters.start();
  return {
    coordinator,
    // Tag freshness shared so the fleet revalidates once per TTL.
    metadata: (inner) => withRedisTags(inner, redis, config.cache.maxStale, prefix),
    tokens: redisTokens(redis, prefix),
    source: {
      wrap: (digest, upstream, onOwner, confirm) => clusterSource(cluster, digest, upstream, (claim) => { if (claim.kind === 'owner') onOwner(claim.release); }, confirm),
    },
    limits: {
      limiter: (scope, rate, burst) => counters.limiter(scope, rate, burst),
      loginAttempts: (local: LoginBackoff) => new RedisLoginAttempts(redis, local, `${prefix}login:`),
    },
    windows: (name, ms, slots, max) => counters.window(name, ms, slots, max),
    sharedIndex: config.storage.driver === 's3' ? (driver, store) => openFleetIndex(config, redis, prefix, instance, driver, store, log) : undefined,
    registerPeers: (app) => registerPeerRoutes(app, { inflight, blobs, token }),
    close: async () => { await counters.close(); await coordinator.close(); },
  };
}
