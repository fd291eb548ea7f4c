import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestEvent } from '../obs/events.js';

/** What a handler learned about a request, for its event. */
export type RequestFacts = Partial<Pick<RequestEvent, 'operation' | 'registry' | 'repository' | 'reference' | 'digest' | 'cache' | 'upstream' | 'user' | 'errorCode' | 'clientIp' | 'redirect' | 'redirectedBytes' | 'policy'>>;

declare module 'fastify' {
  interface FastifyRequest { facts: RequestFacts }
}

/**
 * The client's address for every protocol: Fastify's (which honours trustedProxies), else the
 * HTTP/2 session's socket (Http2ServerRequest has no `connection`, which proxy-addr reads), else
 * the raw socket's; never undefined.
 */
export function clientAddress(req: FastifyRequest): string {
  const raw = req.raw as unknown as { stream?: { session?: { socket?: { remoteAddress?: string } } }; socket?: { remoteAddress?: string } };
  return req.ip || raw.stream?.session?.socket?.remoteAddress || raw.socket?.remoteAddress || 'unknown';
}

/**
 * Every fact is named, not spread in: events then all have one shape, and a spread of facts objects
 * of many shapes took V8's slow generic copy (it cost as much as an audit line, in the profile).
 */
export function toEvent(req: FastifyRequest, reply: FastifyReply): RequestEvent {
  const f = req.facts ?? {};
  const raw = reply.raw;
  return {
    time: Date.now(),
    operation: f.operation ?? 'other',
    method: req.method,
    status: reply.statusCode,
    durationMs: reply.elapsedTime,
    // reply.getHeader, not raw.getHeader: fastify passes its headers to writeHead, where raw.getHeader cannot see them.
    bytes: req.method === 'HEAD' ? 0 : Number(reply.getHeader('content-length') ?? 0) || 0,
    clientIp: f.clientIp ?? clientAddress(req),
    userAgent: req.headers['user-agent'],
    aborted: !raw.writableFinished,
    user: f.user,
    registry: f.registry,
    repository: f.repository,
    reference: f.reference,
    digest: f.digest,
    cache: f.cache,
    upstream: f.upstream,
    errorCode: f.errorCode,
    redirect: f.redirect,
    redirectedBytes: f.redirectedBytes,
    policy: f.policy,
  };
}
