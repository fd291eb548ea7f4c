import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { StorageDriver } from '../store/driver.js';
import { UPLOADS_PREFIX, uploadChunkKey, uploadStateKey } from '../store/paths.js';
import { copyBody } from './body.js';
import type { HostedContent } from './content.js';

/** A blob upload session, persisted as JSON so it survives a restart of the gateway. */
export interface UploadState {
  id: string;
  /** The repository the session belongs to; other repositories cannot use it. */
  repo: string;
  /** Bytes received so far (sum of chunks). */
  offset: number;
  /** Sizes of the stored chunks, in order: chunk n lives at uploadChunkKey(id, n). */
  chunks: number[];
  createdAt: number;
  updatedAt: number;
  /** Who opened it (user, or client address when anonymous): sessions are capped per owner. */
  owner?: string;
}

/** A piece of request body: the stream and what its headers announced. */
export interface BodyPart {
  body: Readable;
  /** From Content-Range (inclusive offsets); absent for a streamed append. */
  range?: { start: number; end: number };
  contentLength?: number;
}

export interface UploadOptions {
  ttlMs: number;
  /** Largest blob; 0 = none. */
  maxBlobSize: number;
  idleMs: number;
  /** Open sessions one owner (user or client address) may have; 0 = no limit. */
  maxSessions?: number;
  now?: () => number;
}

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The upload Range header: `0-<last byte>`, and `0-0` before any byte (distribution does so). */
export const uploadRange = (s: UploadState) => `0-${Math.max(0, s.offset - 1)}`;
export const uploadLocation = (s: UploadState) => `/v2/${s.repo}/blobs/uploads/${s.id}`;

/**
 * Upload sessions (spec "Pushing blobs"): chunks are stored as objects as they arrive (each one
 * atomically: a chunk cut short by a disconnect is dropped and the offset stays where it was),
 * and the final PUT streams them, in order, into the content store while hashing. Re-hashing at
 * the end is what lets any algorithm (sha512) arrive only at the final PUT.
 */
export class Uploads {
  private readonly busy = new Set<string>();
  /** Open sessions per owner, since this process started (restored sessions expire by TTL). */
  private readonly open = new Map<string, Set<string>>();
  private readonly now: () => number;

  constructor(private readonly driver: StorageDriver, private readonly content: HostedContent, private opts: UploadOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** A reload's new session TTL and size limit, for the next request. */
  configure(o: Pick<UploadOptions, 'ttlMs' | 'maxBlobSize' | 'maxSessions'>): void { this.opts = { ...this.opts, ...o }; }

  /**
   * A new session. Each owner may hold `maxSessions` at once: sessions cost storage and live for
   * the TTL, so an unbounded number is a way to fill the disk (2,000 were opened in 4 s).
   */
  async create(repo: string, owner = ''): Promise<UploadState> {
    const mine = this.open.get(owner) ?? new Set<string>();
    const max = this.opts.maxSessions ?? 0;
    if (max > 0 && mine.size >= max) {
      throw new RegistryError('TOOMANYREQUESTS', `${mine.size} upload sessions are open for this ${owner.includes('.') || owner.includes(':') ? 'client' : 'user'}; finish or cancel one first (limit hosted.maxUploadSessions = ${max})`, { limit: max }, { headers: { 'retry-after': '60' } });
    }
    const t = this.now();
    const s: UploadState = { id: randomUUID(), repo, offset: 0, chunks: [], createdAt: t, updatedAt: t, owner };
    await this.save(s);
    mine.add(s.id);
    this.open.set(owner, mine);
    return s;
  }

  /** The session, if it exists, belongs to `repo` and has not expired; BLOB_UPLOAD_UNKNOWN otherwise. */
  async get(repo: string, id: string): Promise<UploadState> {
    // The id reaches a storage key: only a canonical UUID may (no traversal, no other objects).
    if (!ID_RE.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'no such upload session', { uuid: id.slice(0, 80) });
    const buf = await this.driver.get(uploadStateKey(id));
    let s: UploadState | undefined;
    try { s = buf ? (JSON.parse(buf.toString('utf8')) as UploadState) : undefined; } catch { s = undefined; }
    if (!s || s.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'no such upload session in this repository', { uuid: id });
    if (this.now() - s.updatedAt > this.opts.ttlMs) {
      await this.remove(s);
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload session expired', { uuid: id });
    }
    return s;
  }

  /** PATCH: appends a chunk at the session's offset. Out of order: 416 with the current Range. */
  async append(repo: string, id: string, part: BodyPart): Promise<UploadState> {
    return this.locked(id, async () => {
      const s = await this.get(repo, id);
      await this.appendChunk(s, part);
      return s;
    });
  }

  /** Final PUT: optional last chunk, then verify the whole against `digest` and publish it. */
  async complete(repo: string, id: string, digest: Digest, part?: BodyPart): Promise<number> {
    return this.locked(id, async () => {
      const s = await this.get(repo, id);
      if (part) this.checkOrder(s, part);
      let size: number;
      try {
        size = await this.content.ingest(digest, async (w) => {
          for (let n = 0; n < s.chunks.length; n++) {
            for await (const chunk of await this.driver.read(uploadChunkKey(s.id, n)) as AsyncIterable<Buffer>) {
              await w.write(chunk);
            }
          }
          const extra = part ? await copyBody(part.body, w, [], this.limits(s, part)) : 0;
          return s.offset + extra;
        });
      } catch (e) {
        // A digest that does not match means the data is wrong, not late: drop the whole session
        // so nothing of it stays behind. Other failures (client gone) keep it for a retry.
        if (e instanceof RegistryError && e.code === 'DIGEST_INVALID') await this.remove(s);
        throw e;
      }
      await this.remove(s);
      return size;
    });
  }

  /** DELETE <location>: cancels the session and drops its data. */
  async cancel(repo: string, id: string): Promise<void> {
    await this.locked(id, async () => this.remove(await this.get(repo, id)));
  }

  /** Removes sessions untouched for longer than the TTL (and chunk data without a session). */
  async purgeExpired(): Promise<number> {
    const byId = new Map<string, { keys: string[]; newest: number }>();
    for await (const e of this.driver.list(UPLOADS_PREFIX)) {
      const id = e.key.slice(UPLOADS_PREFIX.length + 1).split('/')[0]!;
      const g = byId.get(id) ?? { keys: [], newest: 0 };
      g.keys.push(e.key);
      g.newest = Math.max(g.newest, e.mtimeMs);
      byId.set(id, g);
    }
    let removed = 0;
    for (const [id, g] of byId) {
      if (this.busy.has(id) || this.now() - g.newest <= this.opts.ttlMs) continue;
      for (const k of g.keys) await this.driver.delete(k);
      for (const [owner] of this.open) this.forget(owner, id);
      removed++;
    }
    return removed;
  }

  private forget(owner: string, id: string): void {
    const mine = this.open.get(owner);
    if (!mine?.delete(id)) return;
    if (mine.size === 0) this.open.delete(owner);
  }

  private checkOrder(s: UploadState, part: BodyPart): void {
    if (!part.range) return;
    if (part.range.start !== s.offset) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${part.range.start}, the upload has ${s.offset} bytes`, { offset: s.offset }, {
        status: 416, headers: { location: uploadLocation(s), range: uploadRange(s), 'docker-upload-uuid': s.id },
      });
    }
    const span = part.range.end - part.range.start + 1;
    if (part.contentLength !== undefined && part.contentLength !== span) {
      throw new RegistryError('SIZE_INVALID', `Content-Length ${part.contentLength} does not match Content-Range (${span} bytes)`);
    }
  }

  private limits(s: UploadState, part: BodyPart) {
    const expected = part.range ? part.range.end - part.range.start + 1 : part.contentLength;
    const max = this.opts.maxBlobSize ? this.opts.maxBlobSize - s.offset : 0;
    if (this.opts.maxBlobSize && max <= 0) throw new RegistryError('SIZE_INVALID', `blob larger than the ${this.opts.maxBlobSize} byte limit`, {}, { status: 413 });
    return { expected, max, idleMs: this.opts.idleMs };
  }

  private async appendChunk(s: UploadState, part: BodyPart): Promise<void> {
    this.checkOrder(s, part);
    const n = s.chunks.length;
    const w = await this.driver.writer(uploadChunkKey(s.id, n));
    let size: number;
    try {
      size = await copyBody(part.body, w, [], this.limits(s, part));
      if (size === 0) { await w.abort(); return; }
      await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
    s.chunks.push(size);
    s.offset += size;
    await this.save(s);
  }

  private async save(s: UploadState): Promise<void> {
    s.updatedAt = this.now();
    await this.driver.put(uploadStateKey(s.id), Buffer.from(JSON.stringify(s)));
  }

  private async remove(s: UploadState): Promise<void> {
    this.forget(s.owner ?? '', s.id);
    await this.driver.delete(uploadStateKey(s.id));
    for (let n = 0; n < s.chunks.length; n++) await this.driver.delete(uploadChunkKey(s.id, n));
  }

  /**
   * One request at a time per session. A second concurrent request cannot know the offset the
   * first will leave, so it is out of order by definition: 416, and the client asks for the status.
   */
  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) {
      throw new RegistryError('RANGE_INVALID', 'another request is writing to this upload session', { uuid: id }, { status: 416 });
    }
    this.busy.add(id);
    try { return await fn(); } finally { this.busy.delete(id); }
  }
}
