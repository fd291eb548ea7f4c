import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { parseReference } from '../oci/reference.js';
import type { ApiRequest, RoutedRepo } from '../oci/addressing.js';
import type { RepoKey } from '../oci/repo.js';
import { copyBody, parseUploadRange, readSmallBody } from './body.js';
import { MAX_MANIFEST_BYTES } from './manifest-check.js';
import { HOSTED_REGISTRY, type HostedRepositories } from './repositories.js';
import { uploadLocation, uploadRange, type BodyPart, type UploadState, type Uploads } from './uploads.js';
import { declaredLength } from '../oci/range.js';

type Req = FastifyRequest<{ Params: { '*': string }; Querystring: Record<string, string | string[] | undefined> }>;
/** Whether the caller may do `action` on a repository (the gateway's access decision). */
export type AccessCheck = (key: RepoKey, action: 'pull' | 'push' | 'delete') => boolean;
/** Routes a repository name as written (the gateway's router), for a mount's `from`. */
export type Resolve = (name: string) => RoutedRepo;

/** What the gateway knows of the caller: its access decision, its router, and who it is. */
export interface Caller {
  can: AccessCheck;
  resolve: Resolve;
  /** The user, or the client address for anonymous callers (upload sessions are capped per owner). */
  owner: string;
}

const PROXIED = 'this namespace is a pull-through cache; pushes and deletes go to the upstream registry';

/** The methods each endpoint takes, for the Allow header a 405 must carry (RFC 9110 §15.5.6). */
const ALLOW = { start: 'POST', session: 'GET, HEAD, PATCH, PUT, DELETE', manifest: 'GET, HEAD, PUT, DELETE', blob: 'GET, HEAD, DELETE' } as const;
const unsupported = (message: string, allow: string) => new RegistryError('UNSUPPORTED', message, {}, { headers: { allow } });

/**
 * The push side of the distribution API for hosted repositories: uploads (monolithic, chunked,
 * streamed, mount), upload status and cancel, manifest PUT, and deletes. The gateway calls it for
 * every write method and for upload-status GETs, with the request already parsed and routed
 * (`api`): names that are not hosted are refused.
 */
export class HostedHttp {
  constructor(private readonly repos: HostedRepositories, private readonly uploads: Uploads, private opts: { maxBlobSize: number; idleMs: number }) {}

  /** A reload's new size limit, for the next request. */
  configure(o: { maxBlobSize: number }): void { this.opts = { ...this.opts, ...o }; }

  /**
   * Refuses a body whose declared length is over the limit before a byte of it is read (and
   * before `100 Continue` invites it): blob uploads over maxBlobSize, manifests over 4 MiB.
   */
  checkDeclaredLength(api: ApiRequest | undefined, method: string, contentLength: number | undefined): void {
    if (contentLength === undefined || !api?.repo?.hosted) return;
    if (api.kind === 'manifest' && method === 'PUT' && contentLength > MAX_MANIFEST_BYTES) {
      throw new RegistryError('MANIFEST_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, { limit: MAX_MANIFEST_BYTES }, { status: 413 });
    }
    const max = this.opts.maxBlobSize;
    if (api.kind === 'upload' && max > 0 && contentLength > max) {
      throw new RegistryError('SIZE_INVALID', `declared Content-Length ${contentLength} is over the ${max} byte blob limit (hosted.maxBlobSize)`, { limit: max }, { status: 413 });
    }
  }

  async handle(api: ApiRequest | undefined, req: Req, reply: FastifyReply, caller: Caller): Promise<unknown> {
    if (!api?.repo) throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
    if (!api.repo.hosted) throw unsupported(PROXIED, 'GET, HEAD');
    const repo: RepoKey = { registry: HOSTED_REGISTRY, name: api.repo.name };
    const f = req.facts;
    Object.assign(f, { registry: HOSTED_REGISTRY, repository: repo.name });
    const m = req.method;
    if (api.kind === 'upload') {
      f.operation = 'upload';
      if (api.uploadId !== undefined) return this.session(req, reply, repo, api.uploadId);
      if (m === 'POST') return this.start(req, reply, repo, caller);
      throw unsupported(`${m} is not supported on this endpoint`, ALLOW.start);
    }
    if (api.kind === 'manifest') {
      if (m === 'PUT') { f.operation = 'manifest_put'; return this.putManifest(req, reply, repo, api.reference!); }
      if (m === 'DELETE') { f.operation = 'delete'; return this.deleteManifest(req, reply, repo, api.reference!); }
      throw unsupported(`${m} is not supported on this endpoint`, ALLOW.manifest);
    }
    if (api.kind === 'blob') {
      if (m !== 'DELETE') throw unsupported(`${m} is not supported on this endpoint`, ALLOW.blob);
      f.operation = 'delete';
      const d = parseDigest(api.reference!);
      f.digest = d.value;
      await this.repos.deleteBlob(repo, d);
      return reply.code(202).header('content-length', 0).send();
    }
    throw new RegistryError('NAME_UNKNOWN', 'no such endpoint');
  }

  /** POST …/blobs/uploads/: mount, monolithic (?digest=), or a new session. */
  private async start(req: Req, reply: FastifyReply, repo: RepoKey, { can, resolve, owner }: Caller): Promise<unknown> {
    const mount = one(req.query.mount);
    const from = one(req.query.from);
    if (mount && from) {
      const d = parseDigest(mount);
      const routed = safeRoute(resolve, from);
      const source = routed?.hosted ? { registry: HOSTED_REGISTRY, name: routed.name } : undefined;
      // Only from a repository the caller may read: a mount must not become a way to copy
      // someone else's blob by guessing its digest. Otherwise a plain session (202), as the spec says.
      if (source && can(source, 'pull') && (await this.repos.linkedContent(source, d))) {
        await this.repos.linkBlob(repo, d);
        this.repos.content.used(d.value);
        req.facts.digest = d.value;
        return blobCreated(reply, repo, d.value);
      }
    }
    const alg = one(req.query['digest-algorithm']);
    if (alg !== undefined && alg !== 'sha256' && alg !== 'sha512') throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm "${alg.slice(0, 32)}"`);
    const digest = one(req.query.digest);
    if (digest !== undefined) {
      const d = parseDigest(digest);
      req.facts.digest = d.value;
      await this.repos.content.ingest(d, (w) => copyBody(req.raw, w, [], { expected: contentLength(req), max: this.opts.maxBlobSize, idleMs: this.opts.idleMs }));
      await this.repos.linkBlob(repo, d);
      return blobCreated(reply, repo, d.value);
    }
    const s = await this.uploads.create(repo.name, owner);
    return sessionReply(reply.code(202), s);
  }

  private async session(req: Req, reply: FastifyReply, repo: RepoKey, id: string): Promise<unknown> {
    switch (req.method) {
      case 'GET': case 'HEAD':
        return sessionReply(reply.code(204), await this.uploads.get(repo.name, id));
      case 'PATCH':
        return sessionReply(reply.code(202), await this.uploads.append(repo.name, id, bodyPart(req)));
      case 'PUT': {
        const digest = one(req.query.digest);
        if (!digest) throw new RegistryError('DIGEST_INVALID', 'the final PUT needs ?digest=<digest of the whole blob>');
        const d = parseDigest(digest);
        req.facts.digest = d.value;
        await this.uploads.complete(repo.name, id, d, bodyPart(req));
        await this.repos.linkBlob(repo, d);
        return blobCreated(reply, repo, d.value);
      }
      case 'DELETE':
        await this.uploads.cancel(repo.name, id);
        return reply.code(204).header('content-length', 0).send();
      default:
        throw unsupported(`${req.method} is not supported on an upload session`, ALLOW.session);
    }
  }

  private async putManifest(req: Req, reply: FastifyReply, repo: RepoKey, refText: string): Promise<unknown> {
    const ref = parseReference(refText);
    req.facts.reference = ref.value;
    const declared = contentLength(req);
    const tooLarge = () => new RegistryError('MANIFEST_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`, { limit: MAX_MANIFEST_BYTES }, { status: 413 });
    if (declared !== undefined && declared > MAX_MANIFEST_BYTES) throw tooLarge();
    const bytes = await readSmallBody(req.raw, MAX_MANIFEST_BYTES, tooLarge);
    const r = await this.repos.putManifest(repo, ref, bytes, req.headers['content-type']);
    req.facts.digest = r.digest;
    reply.code(201).header('location', `/v2/${repo.name}/manifests/${r.digest}`).header('docker-content-digest', r.digest).header('content-length', 0);
    if (r.subject) reply.header('oci-subject', r.subject);
    return reply.send();
  }

  private async deleteManifest(req: Req, reply: FastifyReply, repo: RepoKey, refText: string): Promise<unknown> {
    const ref = parseReference(refText);
    req.facts.reference = ref.value;
    await this.repos.deleteManifest(repo, ref);
    return reply.code(202).header('content-length', 0).send();
  }
}

function safeRoute(resolve: Resolve, name: string): RoutedRepo | undefined {
  try { return resolve(name); } catch { return undefined; }
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function contentLength(req: Req): number | undefined {
  return declaredLength(req.headers['content-length']);
}

function bodyPart(req: Req): BodyPart {
  const range = parseUploadRange(req.headers['content-range']);
  return { body: req.raw, range, contentLength: contentLength(req) };
}

function blobCreated(reply: FastifyReply, repo: RepoKey, digest: string): FastifyReply {
  return reply.code(201).header('location', `/v2/${repo.name}/blobs/${digest}`).header('docker-content-digest', digest).header('content-length', 0).send();
}

function sessionReply(reply: FastifyReply, s: UploadState): FastifyReply {
  return reply.header('location', uploadLocation(s)).header('range', uploadRange(s)).header('docker-upload-uuid', s.id).header('content-length', 0).send();
}
