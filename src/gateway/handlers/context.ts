import type { FastifyRequest } from 'fastify';
import type { RepoRouter } from '../../oci/addressing.js';
import type { CatalogIndex, RepositoryReader } from '../../oci/registry.js';
import type { HostedHttp, Caller } from '../../hosted/http.js';
import '../request-facts.js';
import '../guard.js';

/** What the registry handlers serve from: two RepositoryReaders and the router that picks one. */
export interface RegistryContext {
  /** The pull-through cache. */
  pull: RepositoryReader;
  /** Hosted (pushable) repositories: their read side and their write side; absent: every name is pull-through. */
  hosted?: { reader: RepositoryReader; http: HostedHttp };
  /** How names route to repositories now (hosted patterns, default registry); swapped on reload. */
  router: () => RepoRouter;
  /** The catalog by pages; absent or not ready: the readers' whole lists, sorted per request. */
  catalog?: CatalogIndex;
}

export type Req = FastifyRequest<{ Params: { '*': string }; Querystring: Record<string, string | undefined> }>;

/** The hosted write side's view of the caller. */
export function caller(ctx: RegistryContext, req: FastifyRequest): Caller {
  return {
    can: (key, action) => req.principal?.can(key, action) ?? true,
    resolve: (name) => ctx.router().route(name),
    owner: req.principal?.user ?? req.facts.clientIp ?? req.ip,
  };
}
