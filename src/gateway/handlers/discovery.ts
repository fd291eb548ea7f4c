import type { FastifyReply } from 'fastify';
import { parseDigest } from '../../oci/digest.js';
import { MT } from '../../oci/mediatypes.js';
import { paginate } from '../../oci/paging.js';
import { HOSTED_REGISTRY, type RepoKey } from '../../oci/repo.js';
import type { RepositoryReader } from '../../oci/registry.js';
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
  const defaultRegistry = ctx.router().defaultRegistry;
  const keys: RepoKey[] = [...(await ctx.pull.repositories()), ...(ctx.hosted ? await ctx.hosted.reader.repositories() : [])];
  // Only what the caller may pull is listed: a catalog must not reveal other tenants' names.
  const visible = req.principal ? keys.filter((k) => req.principal!.visible(k)) : keys;
  const display = (k: RepoKey) => (k.registry === HOSTED_REGISTRY || k.registry === defaultRegistry ? k.name : `${k.registry}/${k.name}`);
  const all = [...new Set(visible.map(display))].sort();
  const { page, next } = paginate(all, req.query.n, req.query.last);
  if (next !== undefined) reply.header('link', `</v2/_catalog?${new URLSearchParams({ n: req.query.n!, last: next })}>; rel="next"`);
  reply.header('content-type', 'application/json');
  return reply.send(JSON.stringify({ repositories: page }));
}
