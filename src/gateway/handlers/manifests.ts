import type { FastifyReply } from 'fastify';
import { RegistryError, isRegistryError } from '../../oci/errors.js';
import { parseReference } from '../../oci/reference.js';
import { acceptable, parseAccept } from '../../oci/mediatypes.js';
import type { RepoKey } from '../../oci/repo.js';
import type { PolicyDecision, RepositoryReader } from '../../oci/registry.js';
import type { Req } from './context.js';

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

/** GET/HEAD /v2/<name>/manifests/<reference>. */
export async function getManifest(src: RepositoryReader, req: Req, reply: FastifyReply, repo: RepoKey, ref: string): Promise<unknown> {
  req.facts.reference = ref;
  const parsed = parseReference(ref, { read: true });
  const f = req.facts;
  const r = await src.manifest(repo, parsed).catch((e: unknown) => {
    f.policy = refusal(e);
    throw e;
  });
  f.digest = r.digest;
  f.cache = r.result;
  f.upstream = r.upstream;
  f.policy = r.policy;
  // By digest the client named these exact bytes: Accept cannot make them another format.
  if (parsed.kind === 'tag' && !acceptable(r.mediaType, acceptOf(req.headers.accept))) {
    // We never convert formats: say what is stored instead of sending something the client cannot use.
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${r.mediaType}, which the request's Accept header does not list`, { mediaType: r.mediaType });
  }
  reply.header('content-type', r.mediaType).header('docker-content-digest', r.digest).header('etag', `"${r.digest}"`);
  // The policy's verdict, for doctor and trace (a refusal says it in the 403 body instead).
  if (r.policy) reply.header('x-regway-policy', `policy=${r.policy.policy}; decision=${r.policy.decision}; reason=${r.policy.reason}`);
  if (r.result === 'stale') reply.header('warning', '299 - "Response is stale: upstreams unavailable"'); // the spec allows only 299 -
  // A client that already holds this digest (If-None-Match with our ETag) gets 304 and no body.
  const inm = req.headers['if-none-match'];
  if (inm && notModified(inm, r.digest)) return reply.code(304).send();
  reply.header('content-length', r.bytes.length).header('x-regway-cache', r.result);
  return req.method === 'HEAD' ? reply.send() : reply.send(r.bytes);
}

/** A pull policy's refusal (reader in src/policy), for the audit log and the metrics. */
function refusal(e: unknown): PolicyDecision | undefined {
  if (!isRegistryError(e, 'DENIED')) return undefined;
  const d = e.detail as { policy?: unknown; reason?: unknown };
  return typeof d.policy === 'string' && typeof d.reason === 'string' ? { policy: d.policy, decision: 'deny', reason: d.reason } : undefined;
}

/** RFC 9110 §13.1.2: `*` or a list of entity tags (weak ones compare equal too). */
function notModified(header: string, digest: string): boolean {
  return header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${digest}"`);
}
