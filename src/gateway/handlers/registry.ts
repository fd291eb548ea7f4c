import type { FastifyInstance, FastifyReply } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { RepoKey } from '../../oci/repo.js';
import { getManifest } from './manifests.js';
import { getBlob } from './blobs.js';
import { catalog, listReferrers, listTags } from './discovery.js';
import { caller, type RegistryContext, type Req } from './context.js';

/**
 * The distribution API routes. Every request was parsed and routed once before it got here
 * (req.api, see parse.ts) and authorized on that routed repository (guard.ts): dispatch only picks
 * the handler and the reader (hosted or pull-through) the parse chose.
 */
export function registryRoutes(ctx: RegistryContext) {
  return async (app: FastifyInstance): Promise<void> => {
    for (const method of ['GET', 'HEAD'] as const) {
      app.route({ method, url: '/v2/', handler: async (req, reply) => { req.facts.operation = 'ping'; return reply.header('content-type', 'application/json').send('{}'); } });
      app.route({ method, url: '/v2', handler: async (_req, reply) => reply.redirect('/v2/', 301) });
      app.route({ method, url: '/v2/*', handler: (req, reply) => dispatch(ctx, req as Req, reply) });
    }
    // Any other method (OPTIONS, a CORS preflight...) on the API: 405 naming what works, not a 404
    // that says the repository does not exist.
    app.route({
      method: ['OPTIONS', 'TRACE'], url: '/v2/*',
      handler: async () => { throw new RegistryError('UNSUPPORTED', 'method not supported by the registry API', {}, { headers: { allow: ctx.hosted ? 'GET, HEAD, POST, PUT, PATCH, DELETE' : 'GET, HEAD' } }); },
    });
    app.route({
      method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/v2/*',
      handler: async (req, reply) => {
        if (ctx.hosted) return ctx.hosted.http.handle(req.api, req as Req, reply, caller(ctx, req));
        throw new RegistryError('UNSUPPORTED', 'this namespace is a pull-through cache; pushes and deletes go to the upstream registry', {}, { headers: { allow: 'GET, HEAD' } });
      },
    });
  };
}

async function dispatch(ctx: RegistryContext, req: Req, reply: FastifyReply): Promise<unknown> {
  const api = req.api;
  if (api?.kind === 'catalog') { req.facts.operation = 'catalog'; return catalog(ctx, req, reply); }
  if (!api?.repo) throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
  const repo = api.repo;
  req.facts.operation = api.kind === 'ping' ? 'other' : api.kind;
  req.facts.registry = repo.registry;
  req.facts.repository = repo.name;
  if (repo.ns) reply.header('oci-namespace', repo.ns);
  // Hosted names are served from local storage only and never go upstream.
  if (api.kind === 'upload') {
    if (repo.hosted && ctx.hosted) return ctx.hosted.http.handle(api, req, reply, caller(ctx, req));
    throw new RegistryError('UNSUPPORTED', 'this namespace is a pull-through cache; pushes go to the upstream registry');
  }
  const src = repo.hosted && ctx.hosted ? ctx.hosted.reader : ctx.pull;
  const key: RepoKey = { registry: repo.registry, name: repo.name };
  switch (api.kind) {
    case 'manifest': return getManifest(src, req, reply, key, api.reference!);
    case 'blob': return getBlob(src, req, reply, key, api.reference!);
    case 'tags': return listTags(src, req, reply, key, api.name!);
    case 'referrers': return listReferrers(src, req, reply, key, api.reference!);
    default: throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
  }
}
