import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { peerToken } from './fleet.js';
import type { Logger } from '../obs/logger.js';
import type { BlobStore } from '../store/blob-store.js';
import type { InflightFetches } from '../cache/inflight.js';
import type { FleetSource } from '../cache/context.js';
import { registerPeerRoutes } from '../cluster/peer.js';
import { defaultPeerNetworks } from '../cluster/peer-auth.js';
import { P2pNode, p2pSource } from '../cluster/p2p-node.js';
import { P2pTracker } from '../cluster/p2p-tracker.js';
import { registerScheduler } from '../cluster/p2p-scheduler.js';

/** Peer-to-peer distribution wired for one instance: a node (source + peer endpoint) or the scheduler. */
export interface P2p {
  /** Node mode: the download source that reads from parents. */
  source?: FleetSource;
  register(app: FastifyInstance): void;
  /** For /-/status and metrics: a node's counters, or the scheduler's trees. */
  status(): P2pStatus;
}

export type P2pStatus =
  | { role: 'node'; received: Record<string, number>; parentChanges: number; quarantines: number; schedulerErrors: number }
  | { role: 'scheduler'; trees: ReturnType<P2pTracker['trees']> };

/** The shared secret, refused when short: with an empty one the peer endpoint would serve anyone. */
const p2pToken = (p: NonNullable<Config['p2p']>) => peerToken(p, 'p2p', 'the scheduler and every node');

export function joinP2p(config: Config, log: Logger, deps: { blobs: BlobStore; inflight: InflightFetches }): P2p | undefined {
  const p = config.p2p;
  if (!p) return undefined;
  const token = p2pToken(p);
  if (!p.scheduler) {
    const tracker = new P2pTracker({ quarantineMs: p.quarantine, staleMs: Math.max(10_000, 2 * p.stallTimeout), holdMs: 10 * 60_000 });
    log.info({}, 'p2p: this instance schedules node-to-node distribution (/-/p2p/*)');
    return {
      register: (app) => registerScheduler(app, { tracker, token, log }),
      status: () => ({ role: 'scheduler', trees: tracker.trees() }),
    };
  }
  const url = new URL(p.advertiseUrl!).origin;
  const node = new P2pNode({
    self: { id: url, url, zone: p.zone, maxChildren: p.maxChildren },
    scheduler: new URL(p.scheduler).origin, token, stallTimeoutMs: p.stallTimeout, quarantineMs: p.quarantine,
    peerNetworks: p.peerNetworks ?? defaultPeerNetworks(url), log,
  });
  log.info({ scheduler: p.scheduler, advertiseUrl: url, zone: p.zone, maxChildren: p.maxChildren }, 'p2p node mode: misses stream from parents the scheduler picks');
  return {
    source: { wrap: (digest, upstream, onOwner, confirm) => p2pSource(node, digest, upstream, onOwner, confirm) },
    register: (app) => registerPeerRoutes(app, { inflight: deps.inflight, blobs: deps.blobs, token }),
    status: () => ({ role: 'node', ...node.stats.snapshot() }),
  };
}
