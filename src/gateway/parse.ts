import { RegistryError } from '../oci/errors.js';
import { nameEnd, parseApiPath, type ApiPath } from '../oci/api-path.js';
import type { ApiRequest, RepoRouter } from '../oci/addressing.js';
import { PairMemo } from '../oci/memo.js';

export type { ApiRequest };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every request under /v2/ before any other hook runs; undefined: no API endpoint. */
    api?: ApiRequest;
  }
}

/**
 * Parses and routes one API request. Throws NAME_INVALID for a name, an `ns` or an encoded slash
 * that must not reach routing, before anyone is authenticated (a bad name is a bad request, and
 * saying so leaks nothing).
 */
export function parseApiRequest(url: string, path: string, ns: unknown, router: RepoRouter): ApiRequest | undefined {
  const p = parseApiPath(path);
  if (!p?.name) return p;
  if (ns !== undefined && typeof ns !== 'string') {
    // Repeated parameters would let two readers of the query pick different registries.
    throw new RegistryError('NAME_INVALID', 'the ns parameter may be given once');
  }
  if (encodedSlashInName(url, p)) throw new RegistryError('NAME_INVALID', 'an encoded "/" (%2F) is not allowed in a repository name');
  return { ...p, repo: router.route(p.name, ns || undefined) };
}

/**
 * The router decodes %2F into "/": a name with an encoded slash would be served as another
 * repository than the one a path rule in a proxy in front of us saw. Names never contain it (a
 * reference that does is judged by the reference's own validation).
 */
function encodedSlashInName(url: string, p: ApiPath): boolean {
  if (!url.includes('%')) return false;
  const path = url.split('?', 1)[0]!;
  const end = nameEnd(path, p.kind);
  return /%2f/i.test(end < 0 ? path : path.slice(0, end));
}

/**
 * parseApiRequest with a memory: the same few manifest and blob paths take nearly every request,
 * and parsing and routing each again showed on warm hits (several µs of a ~100 µs request). Keyed
 * by exactly what the answer depends on: the routed path (`*` of the matched route: the 404 route's
 * path is another one for the same URL, so the URL alone is not a key) and `ns`. A URL with a
 * percent sign (the encoded-slash check reads it) or a repeated `ns` is parsed afresh; upload paths
 * (one per session), answers that are no API endpoint and errors are never kept. One per router (a
 * reload routes afresh); answers are frozen, as every request shares them.
 */
export class ApiParser {
  private readonly seen = new PairMemo<ApiRequest>();

  constructor(readonly router: RepoRouter) {}

  parse(url: string, path: string, ns: unknown): ApiRequest | undefined {
    if ((ns !== undefined && typeof ns !== 'string') || url.includes('%')) return parseApiRequest(url, path, ns, this.router);
    const known = this.seen.get(ns ?? '', path);
    if (known) return known;
    const api = parseApiRequest(url, path, ns, this.router);
    if (!api || api.kind === 'upload' || path.length > 1024) return api;
    this.seen.set(ns ?? '', path, Object.freeze(api));
    return api;
  }
}
