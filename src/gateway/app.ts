import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../obs/logger.js';
import { RegistryError } from '../oci/errors.js';
import { parseDigest, parseReadDigest } from '../oci/digest.js';
import { parseReference } from '../oci/reference.js';
import { HOSTED_REGISTRY, type RepoKey } from '../oci/repo.js';
import type { RepoRouter } from '../oci/addressing.js';
import { acceptable, parseAccept, MT } from '../oci/mediatypes.js';
import type { BlobService } from '../cache/blobs.js';
import type { ManifestService } from '../cache/manifests.js';
import { paginate, type DiscoveryService } from '../cache/discovery.js';
import { parseApiRequest } from './parse.js';
import { renderError } from './errors.js';
import { sendFile } from './send-file.js';
import type { EventSink, RequestEvent } from '../obs/events.js';
import type { HostedRepositories } from '../hosted/repositories.js';
import type { HostedHttp, Caller } from '../hosted/http.js';
import type { Guard } from './guard.js';
import { registerTokenRoute } from './token-route.js';

/** What a handler learned about a request, for its event. */
export type RequestFacts = Partial<Pick<RequestEvent, 'operation' | 'registry' | 'repository' | 'reference' | 'digest' | 'cache' | 'upstream' | 'user' | 'errorCode' | 'clientIp'>>;

/**
 * The client's address for every protocol: Fastify's (which honours trustedProxies), else the
 * HTTP/2 session's socket (Http2ServerRequest has no `connection`, which proxy-addr reads), else
 * the raw socket's; never undefined.
 */
export function clientAddress(req: FastifyRequest): string {
  const raw = req.raw as unknown as { stream?: { session?: { socket?: { remoteAddress?: string } } }; socket?: { remoteAddress?: string } };
  return req.ip || raw.stream?.session?.socket?.remoteAddress || raw.socket?.remoteAddress || 'unknown';
}

declare module 'fastify' {
  interface FastifyRequest { facts: RequestFacts }
}

export interface GatewayServices {
  /** Receives one event per request when its response ends (audit, metrics, SLO). */
  events?: EventSink;
  blobs: BlobService;
  manifests: ManifestService;
  discovery: DiscoveryService;
  /** How names route to repositories now (hosted patterns, default registry); swapped on reload. */
  router: () => RepoRouter;
  log: Logger;
  /** Proxies (IPs/CIDRs) whose X-Forwarded-For is believed; anyone else's is ignored (it is trivially forged). */
  trustProxy?: string[];
  /** Hosted (pushable) repositories; absent: every name is pull-through. */
  hosted?: { repos: HostedRepositories; http: HostedHttp };
  /** Authentication, authorization and limits (gateway/guard.ts). */
  guard?: Guard;
  /** Extra Fastify/Node server options: TLS, HTTP/2, timeouts (gateway/secure.ts). */
  server?: Record<string, unknown>;
}

/** The read side a handler serves from: the pull-through cache, or hosted repositories. */
interface ReadSources {
  manifests: Pick<ManifestService, 'get'> | HostedRepositories['manifests'];
  blobs: Pick<BlobService, 'get'> | HostedRepositories['blobs'];
  discovery: Pick<DiscoveryService, 'tags' | 'referrers'> | HostedRepositories['discovery'];
}

type Req = FastifyRequest<{ Params: { '*': string }; Querystring: Record<string, string | undefined> }>;

/**
 * Parsed Accept headers by their text: clients send the same few values on every request, and
 * parsing one cost more than the rest of a warm manifest hit's routing. Bounded: once full, other
 * values are parsed each time.
 */
const acceptCache = new Map<string, ReturnType<typeof parseAccept>>();
function acceptOf(h: string | string[] | undefined): ReturnType<typeof parseAccept> {
  if (typeof h !== 'string') return parseAccept(h);
  const hit = acceptCache.get(h);
  if (hit !== undefined || acceptCache.has(h)) return hit;
  const parsed = parseAccept(h);
  if (acceptCache.size < 256) acceptCache.set(h, parsed);
  return parsed;
}

/**
 * Builds the HTTP app (the OCI distribution API, pull side). It never listens by itself: the CLI
 * does, and tests use `app.inject()` or listen on port 0.
 */
export function buildApp(svc: GatewayServices): FastifyInstance {
  const app = Fastify({
    loggerInstance: svc.log,
    // Per-request lines would cost throughput on warm hits; the onResponse hook logs at debug.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: building one cost more than serving a warm manifest. Request
    // context goes into the request event (audit log) instead.
    childLoggerFactory: (logger) => logger,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // req.ip is the audit log's client address: only configured proxies may set it via X-Forwarded-For.
    trustProxy: svc.trustProxy?.length ? svc.trustProxy : false,
    // Repository names contain slashes and can be 255 characters; keep the router from refusing them.
    routerOptions: { maxParamLength: 2048, ignoreDuplicateSlashes: false },
    ...(svc.server ?? {}),
  });

  app.decorateRequest('facts', null as unknown as RequestFacts);
  // Callback-style hooks, not async ones: each async hook costs a promise and a microtask hop per
  // request, which showed on warm hits.
  app.addHook('onRequest', (req, reply, done) => {
    req.facts = {};
    // Taken now: by the end of an HTTP/2 stream its session's socket may be gone, and every
    // audit line, limit and alert keys on the address.
    req.facts.clientIp = clientAddress(req);
    reply.header('docker-distribution-api-version', 'registry/2.0');
    // Every answer is what its Content-Type says, never sniffed into HTML; registry answers (JSON,
    // manifests, blobs, tokens) may not run or embed anything. The status page sets its own policy.
    reply.header('x-content-type-options', 'nosniff');
    if (req.url.startsWith('/v2') || req.url.startsWith('/token')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'; sandbox");
    if (!req.url.startsWith('/v2/')) return done();
    // The one parse of the request: the guard authorizes what dispatch will serve.
    try {
      const path = (req.params as { '*'?: string })['*'] ?? '';
      req.api = parseApiRequest(req.url, path, (req.query as Record<string, unknown>).ns, svc.router());
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
  // Bodies (blob chunks, manifests, token forms) are streamed by their handlers with their own
  // limits; no parser may buffer an upload into memory first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  svc.guard?.install(app as unknown as FastifyInstance, registerTokenRoute);
  // Node answers `Expect: 100-continue` by itself, before any hook: take that over, so a body is
  // invited only once the request is authorized (onRequest) and its declared length accepted.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  app.addHook('preHandler', (req, reply, done) => {
    try {
      svc.hosted?.http.checkDeclaredLength(req.api, req.method, declaredLength(req.headers['content-length']));
    } catch (e) {
      return done(e as Error);
    }
    if (/100-continue/i.test(String(req.headers.expect ?? '')) && 'writeContinue' in reply.raw) reply.raw.writeContinue();
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    if (svc.log.isLevelEnabled('debug')) svc.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    if (svc.events) svc.events.record(toEvent(req, reply));
    done();
  });
  app.setErrorHandler((e, req, reply) => renderError(e, req, reply));
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/v2/')) return renderError(new RegistryError('NAME_UNKNOWN', 'no such endpoint'), req, reply);
    reply.code(404).send({ error: 'not found' });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  for (const method of ['GET', 'HEAD'] as const) {
    app.route({ method, url: '/v2/', handler: async (req, reply) => { req.facts.operation = 'ping'; return reply.header('content-type', 'application/json').send('{}'); } });
    app.route({ method, url: '/v2', handler: async (_req, reply) => reply.redirect('/v2/', 301) });
    app.route({ method, url: '/v2/*', handler: (req, reply) => dispatch(svc, req as Req, reply) });
  }
  // Any other method (OPTIONS, a CORS preflight...) on the API: 405 naming what works, not a 404
  // that says the repository does not exist.
  app.route({
    method: ['OPTIONS', 'TRACE'], url: '/v2/*',
    handler: async () => { throw new RegistryError('UNSUPPORTED', 'method not supported by the registry API', {}, { headers: { allow: svc.hosted ? 'GET, HEAD, POST, PUT, PATCH, DELETE' : 'GET, HEAD' } }); },
  });
  app.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/v2/*',
    handler: async (req, reply) => {
      if (svc.hosted) return svc.hosted.http.handle(req.api, req as Req, reply, caller(svc, req));
      throw new RegistryError('UNSUPPORTED', 'this namespace is a pull-through cache; pushes and deletes go to the upstream registry', {}, { headers: { allow: 'GET, HEAD' } });
    },
  });
  return app as unknown as FastifyInstance;
}

/**
 * Every fact is named, not spread in: events then all have one shape, and a spread of facts objects
 * of many shapes took V8's slow generic copy (it cost as much as an audit line, in the profile).
 */
function toEvent(req: FastifyRequest, reply: FastifyReply): RequestEvent {
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
  };
}

async function dispatch(svc: GatewayServices, req: Req, reply: FastifyReply): Promise<unknown> {
  const api = req.api;
  if (api?.kind === 'catalog') { req.facts.operation = 'catalog'; return catalog(svc, req, reply); }
  if (!api?.repo) throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
  const repo = api.repo;
  req.facts.operation = api.kind === 'ping' ? 'other' : api.kind;
  req.facts.registry = repo.registry;
  req.facts.repository = repo.name;
  if (repo.ns) reply.header('oci-namespace', repo.ns);
  // Hosted names are served from local storage only and never go upstream.
  if (api.kind === 'upload') {
    if (repo.hosted && svc.hosted) return svc.hosted.http.handle(api, req, reply, caller(svc, req));
    throw new RegistryError('UNSUPPORTED', 'this namespace is a pull-through cache; pushes go to the upstream registry');
  }
  const src: ReadSources = repo.hosted && svc.hosted ? svc.hosted.repos : svc;
  const key: RepoKey = { registry: repo.registry, name: repo.name };
  switch (api.kind) {
    case 'manifest': return manifest(src, req, reply, key, api.reference!);
    case 'blob': return blob(src, req, reply, key, api.reference!);
    case 'tags': return tags(src, req, reply, key, api.name!);
    case 'referrers': return referrers(src, req, reply, key, api.reference!);
    default: throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
  }
}

type Repo = RepoKey;

/** The hosted write side's view of the caller. */
function caller(svc: GatewayServices, req: FastifyRequest): Caller {
  return {
    can: (key, action) => req.principal?.can(key, action) ?? true,
    resolve: (name) => svc.router().route(name),
    owner: req.principal?.user ?? req.facts.clientIp ?? req.ip,
  };
}

async function manifest(svc: ReadSources, req: Req, reply: FastifyReply, repo: Repo, ref: string): Promise<unknown> {
  req.facts.reference = ref;
  const parsed = parseReference(ref, { read: true });
  const r = await svc.manifests.get(repo, parsed);
  const f = req.facts;
  f.digest = r.digest; f.cache = r.result; f.upstream = r.upstream;
  // By digest the client named these exact bytes: Accept cannot make them another format.
  if (parsed.kind === 'tag' && !acceptable(r.mediaType, acceptOf(req.headers.accept))) {
    // We never convert formats: say what is stored instead of sending something the client cannot use.
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${r.mediaType}, which the request's Accept header does not list`, { mediaType: r.mediaType });
  }
  reply.header('content-type', r.mediaType).header('docker-content-digest', r.digest).header('etag', `"${r.digest}"`);
  if (r.result === 'stale') reply.header('warning', '299 - "Response is stale: upstreams unavailable"'); // the spec allows only 299 -
  // A client that already holds this digest (If-None-Match with our ETag) gets 304 and no body.
  const inm = req.headers['if-none-match'];
  if (inm && notModified(inm, r.digest)) return reply.code(304).send();
  reply.header('content-length', r.bytes.length).header('x-regway-cache', r.result);
  return req.method === 'HEAD' ? reply.send() : reply.send(r.bytes);
}

function declaredLength(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** RFC 9110 §13.1.2: `*` or a list of entity tags (weak ones compare equal too). */
function notModified(header: string, digest: string): boolean {
  return header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${digest}"`);
}

async function blob(svc: ReadSources, req: Req, reply: FastifyReply, repo: Repo, ref: string): Promise<unknown> {
  req.facts.reference = ref;
  const digest = parseReadDigest(ref, 'BLOB_UNKNOWN');
  const r = await svc.blobs.get(repo, digest, { head: req.method === 'HEAD', range: req.headers.range });
  Object.assign(req.facts, { digest: digest.value, cache: r.result, upstream: r.upstream });
  reply.header('content-type', 'application/octet-stream').header('docker-content-digest', digest.value)
    .header('etag', `"${digest.value}"`).header('accept-ranges', 'bytes').header('x-regway-cache', r.result);
  if (r.range) {
    reply.code(206).header('content-range', `bytes ${r.range.start}-${r.range.end}/${r.size}`).header('content-length', r.range.end - r.range.start + 1);
  } else {
    reply.header('content-length', r.size);
  }
  if ('file' in r && r.file) return sendFile(reply, r.file);
  // A client that goes away must release the reader (and its pin on the blob) at once.
  if (r.body) reply.raw.once('close', () => { if (!r.body!.readableEnded) r.body!.destroy(); });
  return r.body ? reply.send(r.body) : reply.send();
}

async function tags(svc: ReadSources, req: Req, reply: FastifyReply, repo: Repo, rawName: string): Promise<unknown> {
  const r = await svc.discovery.tags(repo, req.query.n, req.query.last);
  if (r.next !== undefined) {
    const q = new URLSearchParams({ n: req.query.n ?? String(r.tags.length), last: r.next });
    if (req.query.ns) q.set('ns', req.query.ns);
    reply.header('link', `</v2/${req.params['*']}?${q}>; rel="next"`);
  }
  reply.header('content-type', 'application/json').header('x-regway-cache', r.result);
  return reply.send(JSON.stringify({ name: rawName, tags: r.tags }));
}

async function referrers(svc: ReadSources, req: Req, reply: FastifyReply, repo: Repo, ref: string): Promise<unknown> {
  const subject = parseDigest(ref);
  const r = await svc.discovery.referrers(repo, subject, req.query.artifactType);
  if (r.filtered) reply.header('oci-filters-applied', 'artifactType');
  reply.header('content-type', MT.ociIndex).header('x-regway-cache', r.result);
  return reply.send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: r.manifests })));
}

async function catalog(svc: GatewayServices, req: Req, reply: FastifyReply): Promise<unknown> {
  const defaultRegistry = svc.router().defaultRegistry;
  const keys: RepoKey[] = await svc.discovery.catalog();
  if (svc.hosted) keys.push(...(await svc.hosted.repos.catalog()).map((name) => ({ registry: HOSTED_REGISTRY, name })));
  // Only what the caller may pull is listed: a catalog must not reveal other tenants' names.
  const visible = req.principal ? keys.filter((k) => req.principal!.visible(k)) : keys;
  const display = (k: RepoKey) => (k.registry === HOSTED_REGISTRY || k.registry === defaultRegistry ? k.name : `${k.registry}/${k.name}`);
  const all = [...new Set(visible.map(display))].sort();
  const { page, next } = paginate(all, req.query.n, req.query.last);
  if (next !== undefined) reply.header('link', `</v2/_catalog?${new URLSearchParams({ n: req.query.n!, last: next })}>; rel="next"`);
  reply.header('content-type', 'application/json');
  return reply.send(JSON.stringify({ repositories: page }));
}
