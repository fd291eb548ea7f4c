import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PEER_AUTH_HEADER, verifyPeerRequest } from './peer-auth.js';
import { parseDigest } from '../oci/digest.js';
import { P2pTracker, type NodeRef } from './p2p-tracker.js';
import type { Logger } from '../obs/logger.js';

/**
 * The scheduler's endpoints, on the central gateway: nodes ask for a parent, report progress,
 * leave, and report bytes that failed verification. Every request is signed with the shared
 * peer token over its whole path and query (peer-auth.ts), so only nodes of the cluster take
 * part and a captured signature is good for that one request for 30 s.
 */
export function registerScheduler(root: FastifyInstance, deps: { tracker: P2pTracker; token: string; log: Logger }): void {
  void root.register(async (app) => schedulerRoutes(app, deps));
}

type Q = Record<string, string | string[] | undefined>;

function one(q: Q, k: string): string | undefined {
  const v = q[k];
  return Array.isArray(v) ? undefined : v;
}
function many(q: Q, k: string): string[] {
  const v = q[k];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The requesting node, from its query; undefined when malformed. */
function nodeOf(q: Q): NodeRef | undefined {
  const url = one(q, 'node');
  const max = Number(one(q, 'max') ?? '1');
  if (!url || !/^https?:\/\/[^/?#@]+$/.test(url) || !Number.isInteger(max) || max < 1 || max > 64) return undefined;
  const zone = one(q, 'zone');
  if (zone !== undefined && zone.length > 100) return undefined;
  return { id: url, url, zone, maxChildren: max };
}

function schedulerRoutes(app: FastifyInstance, deps: { tracker: P2pTracker; token: string; log: Logger }): void {
  const { tracker, token, log } = deps;
  /** The signed, well-formed request's digest and node; otherwise the reply is sent and undefined returned. */
  const admit = (req: FastifyRequest): { digest: string; node: NodeRef; q: Q } | { error: number; message: string } => {
    if (!verifyPeerRequest(token, req.headers[PEER_AUTH_HEADER] as string | undefined, req.url, 0)) return { error: 403, message: 'a signed peer request is required' };
    req.facts.user = 'peer';
    const q = req.query as Q;
    let digest: string;
    try { digest = parseDigest(one(q, 'digest') ?? '').value; } catch { return { error: 400, message: 'digest is not a valid digest' }; }
    const node = nodeOf(q);
    if (!node) return { error: 400, message: 'node must be an http(s) origin and max an integer from 1 to 64' };
    return { digest, node, q };
  };
  const num = (q: Q, k: string): number | undefined => {
    const t = one(q, k);
    return t !== undefined && /^\d{1,15}$/.test(t) ? Number(t) : undefined;
  };

  app.post('/-/p2p/parent', async (req, reply) => {
    const a = admit(req);
    if ('error' in a) return reply.code(a.error).send({ error: a.message });
    const choice = tracker.choose(a.digest, a.node, num(a.q, 'offset') ?? 0, many(a.q, 'exclude'));
    return reply.header('cache-control', 'no-store').send({ parent: choice.parent ? { id: choice.parent.id, url: choice.parent.url } : null });
  });
  app.post('/-/p2p/progress', async (req, reply) => {
    const a = admit(req);
    if ('error' in a) return reply.code(a.error).send({ error: a.message });
    tracker.progress(a.digest, a.node, num(a.q, 'bytes') ?? 0, num(a.q, 'size'), one(a.q, 'done') === '1');
    return reply.code(204).send();
  });
  app.post('/-/p2p/leave', async (req, reply) => {
    const a = admit(req);
    if ('error' in a) return reply.code(a.error).send({ error: a.message });
    tracker.leave(a.digest, a.node.id);
    return reply.code(204).send();
  });
  app.post('/-/p2p/corrupt', async (req, reply) => {
    const a = admit(req);
    if ('error' in a) return reply.code(a.error).send({ error: a.message });
    const parents = many(a.q, 'parent');
    const quarantined = tracker.corrupt(a.digest, a.node, parents);
    log.error({ digest: a.digest, reporter: a.node.id, parents, quarantined }, quarantined.length
      ? 'a node received bytes that failed verification: their sender is quarantined'
      : 'a node received bytes that failed verification from a parent whose own check failed: nobody new quarantined');
    return reply.send({ quarantined });
  });
}
