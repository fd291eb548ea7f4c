import type { FastifyReply } from 'fastify';
import { parseDigest } from '../../oci/digest.js';
import { MT } from '../../oci/mediatypes.js';
import { paginate, validN } from '../../oci/paging.js';
import { displayName, HOSTED_REGISTRY, type RepoKey } from '../../oci/repo.js';
import type { CatalogEntry, RepositoryReader } from '../../oci/registry.js';
import type { RegistryContext, Req } from './context.js';

/** GET /v2/<name>/tags/list with n, last and the next page's Link. */
export async function listTags(src: RepositoryReader, req: Req, reply: FastifyReply, repo: RepoKey, rawName: string): Promise<unknown> {
  const r = await src.tags(repo, req.query.n, req.query.last);
  if (r.next !== undefined) {
    const q = new URLSearchParams({ n: req.query.n ?? String(r.tags.length), last: r.next });
    if (req.query.ns) q.set('ns', req.query.ns);
    reply.header('link', `</v2/${req.params['*']}?${q}>; rel="next"`);
  }
  reply.header('content-type', 'application/json').header('x-regway-cache', r.result);
  return reply.send(JSON.stringify({ name: rawName, tags: r.tags }));
}

/** GET /v2/<name>/referrers/<digest>, filtered by artifactType. */
export async function listReferrers(src: RepositoryReader, req: Req, reply: FastifyReply, repo: RepoKey, ref: string): Promise<unknown> {
  const subject = parseDigest(ref);
  const r = await src.referrers(repo, subject, req.query.artifactType);
  if (r.filtered) reply.header('oci-filters-applied', 'artifactType');
  reply.header('content-type', MT.ociIndex).header('x-regway-cache', r.result);
  return reply.send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: r.manifests })));
}

/** GET /v2/_catalog: both readers' repositories, only those the caller may pull, paged. */
export async function catalog(ctx: RegistryContext, req: Req, reply: FastifyReply): Promise<unknown> {
  const { n, last } = req.query;
  if (n !== undefined) validN(n);
  const { page, next } = (n !== undefined ? await indexedPage(ctx, req, Number(n), last) : undefined) ?? paginate(await allNames(ctx, req), n, last);
  if (next !== undefined) reply.header('link', `</v2/_catalog?${new URLSearchParams({ n: n!, last: next })}>; rel="next"`);
  reply.header('content-type', 'application/json');
  return reply.send(JSON.stringify({ repositories: page }));
}

// Only what the caller may pull is listed: a catalog must not reveal other tenants' names.
const listable = (ctx: RegistryContext, req: Req) => (k: RepoKey) => (k.registry !== HOSTED_REGISTRY || ctx.hosted !== undefined) && (!req.principal || req.principal.visible(k));

/** Every name, sorted: the readers' whole lists (when there is no index, or it is being built). */
async function allNames(ctx: RegistryContext, req: Req): Promise<string[]> {
  const defaultRegistry = ctx.router().defaultRegistry;
  const keys: RepoKey[] = [...(await ctx.pull.repositories()), ...(ctx.hosted ? await ctx.hosted.reader.repositories() : [])];
  return [...new Set(keys.filter(listable(ctx, req)).map((k) => displayName(k, defaultRegistry)))].sort();
}

/**
 * One page from the index, in O(page) when the caller may see most names: rows are read in
 * batches after `last` until the page and one more name are found (the one more says whether
 * there is a next page). Undefined while the index is being built.
 */
async function indexedPage(ctx: RegistryContext, req: Req, n: number, last: string | undefined): Promise<{ page: string[]; next?: string } | undefined> {
  if (!ctx.catalog) return undefined;
  if (n === 0) return { page: [] };
  const defaultRegistry = ctx.router().defaultRegistry;
  const ok = listable(ctx, req);
  const names: string[] = [];
  const batch = Math.min(Math.max(n * 2, 100), 1000);
  let after: string | CatalogEntry | undefined = last;
  while (names.length <= n) {
    const rows = await ctx.catalog.page(after, batch, defaultRegistry);
    if (!rows) return undefined;
    for (const r of rows) if (ok(r) && names[names.length - 1] !== r.display) names.push(r.display);
    if (rows.length < batch) break;
    after = rows[rows.length - 1];
  }
  const page = names.slice(0, n);
  return names.length > n ? { page, next: page[page.length - 1] } : { page };
}
