import type { FastifyReply } from 'fastify';
import { parseReadDigest } from '../../oci/digest.js';
import type { RepoKey } from '../../oci/repo.js';
import type { RepositoryReader } from '../../oci/registry.js';
import { sendFile } from '../send-file.js';
import { clientAddress } from '../request-facts.js';
import type { Req } from './context.js';

/** GET/HEAD /v2/<name>/blobs/<digest>, with Range. */
export async function getBlob(src: RepositoryReader, req: Req, reply: FastifyReply, repo: RepoKey, ref: string): Promise<unknown> {
  req.facts.reference = ref;
  const digest = parseReadDigest(ref, 'BLOB_UNKNOWN');
  const r = await src.blob(repo, digest, { head: req.method === 'HEAD', range: req.headers.range, client: req.facts.clientIp ?? clientAddress(req) });
  Object.assign(req.facts, { digest: digest.value, cache: r.result, upstream: r.upstream });
  if (r.location) {
    // The bytes come from the object store or the CDN (docs/redirects.md); the pull is still counted here.
    Object.assign(req.facts, { redirect: r.redirect, redirectedBytes: r.range ? r.range.end - r.range.start + 1 : r.size });
    return reply.code(307).header('location', r.location).header('docker-content-digest', digest.value)
      .header('x-regway-cache', r.result).header('x-regway-redirect', r.redirect).header('cache-control', 'no-store').send();
  }
  reply.header('content-type', 'application/octet-stream').header('docker-content-digest', digest.value)
    .header('etag', `"${digest.value}"`).header('accept-ranges', 'bytes').header('x-regway-cache', r.result);
  if (r.range) {
    reply.code(206).header('content-range', `bytes ${r.range.start}-${r.range.end}/${r.size}`).header('content-length', r.range.end - r.range.start + 1);
  } else {
    reply.header('content-length', r.size);
  }
  if (r.file) return sendFile(reply, r.file);
  // A client that goes away must release the reader (and its pin on the blob) at once.
  if (r.body) reply.raw.once('close', () => { if (!r.body!.readableEnded) r.body!.destroy(); });
  return r.body ? reply.send(r.body) : reply.send();
}
