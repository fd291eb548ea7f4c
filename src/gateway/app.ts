import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from '../obs/logger.js';
import { RegistryError } from '../oci/errors.js';
import type { CatalogIndex, RepositoryReader } from '../oci/registry.js';
import type { RepoRouter } from '../oci/addressing.js';
import type { EventSink } from '../obs/events.js';
import type { HostedHttp } from '../hosted/http.js';
import { ApiParser } from './parse.js';
import { renderError } from './errors.js';
import { clientAddress, toEvent, type RequestFacts } from './request-facts.js';
import type { Guard } from './guard.js';
import { tokenRoutes } from './token-route.js';
import { registryRoutes } from './handlers/registry.js';
import { declaredLength } from '../oci/range.js';

export { clientAddress, type RequestFacts };

export interface GatewayServices {
  /** Receives one event per request when its response ends (audit, metrics, SLO). */
  events?: EventSink;
  /** The pull-through cache, as a registry. */
  pull: RepositoryReader;
  /** How names route to repositories now (hosted patterns, default registry); swapped on reload. */
  router: () => RepoRouter;
  log: Logger;
  /** Proxies (IPs/CIDRs) whose X-Forwarded-For is believed; anyone else's is ignored (it is trivially forged). */
  trustProxy?: string[];
  /** Hosted (pushable) repositories: read side and write side; absent: every name is pull-through. */
  hosted?: { reader: RepositoryReader; http: HostedHttp };
  /** The catalog by pages (the cache index). */
  catalog?: CatalogIndex;
  /** Authentication, authorization and limits (gateway/guard.ts). */
  guard?: Guard;
  /** Extra Fastify/Node server options: TLS, HTTP/2, timeouts (server/tls.ts). */
  server?: Record<string, unknown>;
}

/**
 * Builds the HTTP app (the OCI distribution API). It never listens by itself: the CLI does, and
 * tests use `app.inject()` or listen on port 0. What runs for every request, in order: the one
 * parse (onRequest), the guard (onRequest), the declared-length check and `100 Continue`
 * (preHandler), the handler, the request event (onResponse).
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
  let parser: ApiParser | undefined;
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
      const router = svc.router();
      if (parser?.router !== router) parser = new ApiParser(router);
      req.api = parser.parse(req.url, path, (req.query as Record<string, unknown>).ns);
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
  // Bodies (blob chunks, manifests, token forms) are streamed by their handlers with their own
  // limits; no parser may buffer an upload into memory first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  svc.guard?.install(app as unknown as FastifyInstance, (a, guard) => { void a.register(tokenRoutes(guard)); });
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
  void app.register(registryRoutes({ pull: svc.pull, hosted: svc.hosted, router: svc.router, catalog: svc.catalog }));
  return app as unknown as FastifyInstance;
}

