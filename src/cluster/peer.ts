import { Agent, request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { PEER_AUTH_HEADER, signPeerRequest, trustedPeerOrigin, verifyPeerRequest } from './peer-auth.js';
import { parseDigest } from '../oci/digest.js';
import type { BlobStore } from '../store/blob-store.js';
import type { InflightFetches } from '../cache/inflight.js';
import type { OpenSource, SourceBody } from '../cache/blob-fetch.js';
import type { FetchCoordinator, PeerInfo, Claim } from './coordinator.js';
import type { Logger } from '../obs/logger.js';

/**
 * The internal endpoint other instances read an in-flight blob from: the same follower stream
 * local clients get (last byte held back until the digest is verified), starting at `offset`.
 * 404 when this instance is not fetching it and has not stored it. Each request is signed for
 * its digest and offset (peer-auth.ts) and audited (`peer_blob`).
 */
export function registerPeerRoutes(root: FastifyInstance, deps: { inflight: InflightFetches; blobs: BlobStore; token: string }): void {
  void root.register(async (app) => peerRoutes(app, deps));
}

function peerRoutes(app: FastifyInstance, deps: { inflight: InflightFetches; blobs: BlobStore; token: string }): void {
  app.get<{ Params: { digest: string }; Querystring: { offset?: string } }>('/-/peer/blobs/:digest', async (req, reply) => {
    req.facts.operation = 'peer_blob';
    const digest = parseDigest(req.params.digest);
    req.facts.digest = digest.value;
    const offsetText = req.query.offset ?? '0';
    if (!/^\d{1,15}$/.test(offsetText)) return reply.code(400).send({ error: 'offset must be a non-negative integer' });
    const offset = Number(offsetText);
    if (!verifyPeerRequest(deps.token, req.headers[PEER_AUTH_HEADER] as string | undefined, digest.value, offset)) {
      return reply.code(403).send({ error: 'a signed peer request is required' });
    }
    req.facts.user = 'peer';
    const fetch = deps.inflight.get(digest.value);
    if (fetch) {
      const release = fetch.hold();
      try {
        await fetch.ready;
        await fetch.whenStable();
        if (fetch.error || fetch.size === undefined) return reply.code(503).send({ error: 'fetch failed' });
        if (offset > 0 && offset >= fetch.size) return reply.code(416).send({ error: `offset ${offset} is past the blob's ${fetch.size} bytes` });
        const body = fetch.reader(offset);
        if (body) {
          reply.raw.once('close', () => { if (!body.readableEnded) body.destroy(); });
          return reply.header('x-regway-blob-size', fetch.size).header('content-length', fetch.size - offset).send(body);
        }
      } finally { release(); }
    }
    const stat = await deps.blobs.stat(digest);
    if (!stat) return reply.code(404).send({ error: 'not fetching or stored here' });
    if (offset > 0 && offset >= stat.size) return reply.code(416).send({ error: `offset ${offset} is past the blob's ${stat.size} bytes` });
    const body = await deps.blobs.open(digest, offset > 0 ? { start: offset, end: stat.size - 1 } : undefined);
    return reply.header('x-regway-blob-size', stat.size).header('content-length', stat.size - offset).send(body);
  });
}

/** Everything a blob fetch needs to cooperate with the fleet. */
export interface ClusterDeps {
  coordinator: FetchCoordinator;
  token: string;
  /** The shared store's blobs (another instance may have committed the one we want). */
  blobs: BlobStore;
  log: Logger;
  /** Where peers may be (CIDRs, host names, `*.suffix`): a lease naming another address is forged. */
  peerNetworks: readonly string[];
  /** A silent peer is given up after this long (the lease would have lapsed by then). */
  leaseTtl: number;
}

const peerAgent = new Agent({ connect: { timeout: 1000 }, headersTimeout: 10_000, bodyTimeout: 10_000 });

/**
 * Wraps a fetch's upstream source with fleet coordination. The first call claims the digest: the
 * owner (or a solo instance) goes upstream; otherwise we stream from the owner. When the owner's
 * stream breaks (it died), we take the lease over and continue from the upstream with a Range from
 * the bytes we already have, through the same resume path as an upstream failover.
 */
export function clusterSource(c: ClusterDeps, digest: string, upstream: OpenSource, onClaim: (claim: Claim) => void, confirm: () => Promise<void>): OpenSource {
  let peer: PeerInfo | undefined;
  let claimed = false;
  // Bytes another instance fetched (for whichever repository) reach this repository's clients only
  // once its upstream confirms the repository holds the blob; bytes from our own upstream need not.
  let confirmed: Promise<void> | undefined;
  const fromPeer = async (p: PeerInfo, offset: number) => { await (confirmed ??= confirm()); return readPeer(c, p, digest, offset); };
  const fromShared = async (offset: number) => {
    if (!(await c.blobs.stat(parseDigest(digest)).catch(() => undefined))) return undefined;
    await (confirmed ??= confirm());
    return fromStore(c, digest, offset);
  };
  return async (offset, brokeBecause, restart) => {
    if (restart) {
      // The bytes so far (from a peer, the shared store or an upstream) were wrong: only the
      // upstream can say what they should be. A peer that sent them is not asked again.
      if (peer) c.log.warn({ digest, peer: peer.instance, reason: brokeBecause }, 'bytes from a peer or the shared store did not verify; fetching from the upstream');
      peer = undefined;
      claimed = true;
      return upstream(0, brokeBecause, true);
    }
    if (!claimed) {
      claimed = true;
      const claim = await c.coordinator.claim(digest);
      onClaim(claim);
      if (claim.kind === 'peer') peer = claim.peer;
    } else if (peer) {
      c.log.warn({ digest, peer: peer.instance, offset, reason: brokeBecause }, 'peer stream broke; taking the fetch over');
      const claim = await c.coordinator.takeOver(digest, peer);
      onClaim(claim);
      peer = claim.kind === 'peer' && claim.peer.instance !== peer.instance ? claim.peer : undefined;
    }
    if (peer) {
      const got = await fromPeer(peer, offset);
      if (got) return got;
      // The owner has neither the fetch nor the blob (it finished and failed, or restarted): take over.
      const claim = await c.coordinator.takeOver(digest, peer);
      onClaim(claim);
      peer = undefined;
      if (claim.kind === 'peer') { const again = await fromPeer(claim.peer, offset); if (again) { peer = claim.peer; return again; } }
      return (await fromShared(offset)) ?? upstream(offset, brokeBecause);
    }
    return (await fromShared(offset)) ?? upstream(offset, brokeBecause);
  };
}

async function readPeer(c: ClusterDeps, peer: PeerInfo, digest: string, offset: number): Promise<SourceBody | undefined> {
  // The lease comes from Redis: contact only addresses inside the peer networks, and only their
  // origin (a path or query from Redis never reaches a request).
  const origin = trustedPeerOrigin(peer.url, c.peerNetworks);
  if (!origin) {
    c.log.warn({ digest, peer: peer.instance, url: String(peer.url).slice(0, 200), peerNetworks: c.peerNetworks }, 'a fetch lease names an address outside cluster.peerNetworks (forged, or a misconfigured advertiseUrl): not contacted');
    return undefined;
  }
  try {
    const r = await request(`${origin}/-/peer/blobs/${digest}?offset=${offset}`, {
      dispatcher: peerAgent, headers: { [PEER_AUTH_HEADER]: signPeerRequest(c.token, digest, offset) },
      headersTimeout: Math.max(1000, c.leaseTtl), bodyTimeout: 10_000,
    });
    const size = Number(r.headers['x-regway-blob-size']);
    if (r.statusCode !== 200 || !Number.isSafeInteger(size) || size < offset) {
      await r.body.dump();
      if (r.statusCode === 200) c.log.warn({ digest, peer: peer.instance }, 'peer answered without a valid blob size: not used');
      return undefined;
    }
    c.log.info({ digest, peer: peer.instance, offset }, 'streaming a blob from the instance that fetches it');
    return { size: offset === 0 ? size : undefined, body: r.body };
  } catch (e) {
    c.log.warn({ digest, peer: peer.instance, err: (e as Error).message }, 'peer unreachable');
    return undefined;
  }
}

/** Another instance may already have committed the blob to the shared store. */
async function fromStore(c: ClusterDeps, digest: string, offset: number): Promise<SourceBody | undefined> {
  const d = parseDigest(digest);
  const stat = await c.blobs.stat(d).catch(() => undefined);
  if (!stat) return undefined;
  const body = await c.blobs.open(d, offset > 0 ? { start: offset, end: stat.size - 1 } : undefined);
  return { size: offset === 0 ? stat.size : undefined, body };
}
