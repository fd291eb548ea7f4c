/**
 * The content side of the fake upstream (fake-upstream.ts): repositories of blobs, manifests and
 * tags in memory, and the answers a registry gives for them (distribution's, for the paths regway
 * asks). No HTTP here: the server turns these answers into responses, and faults bend them.
 */
import { createHash } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Descriptor { mediaType: string; digest: string; size: number; artifactType?: string }
export interface Answer { status: number; headers: Record<string, string>; body: Buffer }
export interface PushedImage { digest: string; manifest: Buffer; config: Descriptor; layers: (Descriptor & { bytes: Buffer })[] }

interface Repo { tags: Map<string, string>; manifests: Map<string, { bytes: Buffer; mediaType: string; subject?: string; artifactType?: string }>; blobs: Set<string> }

const json = (status: number, doc: unknown, headers: Record<string, string> = {}): Answer =>
  ({ status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(doc)) });
const error = (status: number, code: string): Answer => json(status, { errors: [{ code, message: code.toLowerCase().replace(/_/g, ' ') }] });

export class FakeRegistry {
  private readonly repos = new Map<string, Repo>();
  /** Every blob by digest (repositories link them), so a redirect target can serve any of them. */
  readonly blobs = new Map<string, Buffer>();
  /** Paged tag lists: pages of this many tags even when the client gives no `n` (as Docker Hub does). */
  tagPageSize: number | undefined;
  /** false: no referrers API (404), as older registries. */
  referrersApi = true;
  /** true: Range headers are ignored (200 with the whole blob), as some CDNs do. */
  ignoreRange = false;

  private repo(name: string): Repo {
    let r = this.repos.get(name);
    if (!r) { r = { tags: new Map(), manifests: new Map(), blobs: new Set() }; this.repos.set(name, r); }
    return r;
  }

  blob(repo: string, bytes: Uint8Array | string): string {
    const b = Buffer.from(bytes);
    const d = sha256(b);
    this.blobs.set(d, b);
    this.repo(repo).blobs.add(d);
    return d;
  }

  /** Stores a manifest (exact bytes when given a Buffer); `tag` points a tag at it. */
  manifest(repo: string, doc: unknown, opts: { tag?: string; mediaType?: string } = {}): { digest: string; bytes: Buffer } {
    const bytes = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
    const parsed = safeParse(bytes);
    const mediaType = opts.mediaType ?? (typeof parsed?.mediaType === 'string' ? parsed.mediaType : OCI_MANIFEST);
    const digest = sha256(bytes);
    const subject = typeof parsed?.subject?.digest === 'string' ? parsed.subject.digest : undefined;
    const artifactType = typeof parsed?.artifactType === 'string' ? parsed.artifactType : undefined;
    this.repo(repo).manifests.set(digest, { bytes, mediaType, subject, artifactType });
    if (opts.tag) this.tag(repo, opts.tag, digest);
    return { digest, bytes };
  }

  /** An OCI image: a config and layers (random-free, from `seed`), tagged. */
  image(repo: string, tag: string | undefined, opts: { layers?: (Buffer | number)[]; seed?: string; subject?: Descriptor; artifactType?: string } = {}): PushedImage {
    const seed = opts.seed ?? `${repo}:${tag ?? 'untagged'}`;
    const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
    const config = { mediaType: OCI_CONFIG, digest: this.blob(repo, configBytes), size: configBytes.length };
    const layers = (opts.layers ?? [1024]).map((l, i) => {
      const bytes = Buffer.isBuffer(l) ? l : patterned(l, `${seed}/${i}`);
      return { mediaType: OCI_LAYER, digest: this.blob(repo, bytes), size: bytes.length, bytes };
    });
    const doc = {
      schemaVersion: 2, mediaType: OCI_MANIFEST, ...(opts.artifactType ? { artifactType: opts.artifactType } : {}), config,
      layers: layers.map(({ bytes: _b, ...d }) => d), ...(opts.subject ? { subject: opts.subject } : {}),
    };
    const m = this.manifest(repo, doc, { tag });
    return { digest: m.digest, manifest: m.bytes, config, layers };
  }

  tag(repo: string, tag: string, digest: string): void { this.repo(repo).tags.set(tag, digest); }
  untag(repo: string, tag: string): void { this.repo(repo).tags.delete(tag); }

  /** The registry's answer to a request (GET or HEAD bodies are the same; the server drops HEAD's). */
  answer(path: string, query: URLSearchParams, headers: Record<string, string | string[] | undefined>): Answer {
    if (path === '/v2/' || path === '/v2') return json(200, {});
    const storage = /^\/storage\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (storage) return this.blobAnswer(this.blobs.get(storage[1]!), headers.range);
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/(.+)$/.exec(path);
    if (!m) return error(404, 'NAME_UNKNOWN');
    const [, name, kind, ref] = m as unknown as [string, string, string, string];
    const repo = this.repos.get(name);
    switch (kind) {
      case 'manifests': {
        const digest = ref.startsWith('sha256:') ? ref : repo?.tags.get(ref);
        const man = digest ? repo?.manifests.get(digest) : undefined;
        if (!man || !digest) return error(404, 'MANIFEST_UNKNOWN');
        return { status: 200, headers: { 'content-type': man.mediaType, 'docker-content-digest': digest }, body: man.bytes };
      }
      case 'blobs':
        return this.blobAnswer(repo?.blobs.has(ref) ? this.blobs.get(ref) : undefined, headers.range, ref);
      case 'tags':
        if (ref !== 'list' || !repo) return error(404, 'NAME_UNKNOWN');
        return this.tagList(name, [...repo.tags.keys()].sort(), query);
      default: {
        if (!this.referrersApi) return error(404, 'NAME_UNKNOWN');
        const type = query.get('artifactType');
        const manifests = [...(repo?.manifests ?? new Map()).entries()]
          .filter(([, v]) => v.subject === ref && (!type || v.artifactType === type))
          .map(([digest, v]) => ({ mediaType: v.mediaType, digest, size: v.bytes.length, ...(v.artifactType ? { artifactType: v.artifactType } : {}) }));
        return json(200, { schemaVersion: 2, mediaType: OCI_INDEX, manifests }, { 'content-type': OCI_INDEX, ...(type ? { 'oci-filters-applied': 'artifactType' } : {}) });
      }
    }
  }

  private blobAnswer(bytes: Buffer | undefined, range: string | string[] | undefined, digest?: string): Answer {
    if (!bytes) return error(404, 'BLOB_UNKNOWN');
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'docker-content-digest': digest ?? sha256(bytes), 'accept-ranges': 'bytes' };
    const r = typeof range === 'string' && !this.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (!r) return { status: 200, headers, body: bytes };
    const start = Number(r[1]);
    const end = Math.min(r[2] ? Number(r[2]) : bytes.length - 1, bytes.length - 1);
    if (start > end) return { status: 416, headers: { 'content-range': `bytes */${bytes.length}` }, body: Buffer.alloc(0) };
    return { status: 206, headers: { ...headers, 'content-range': `bytes ${start}-${end}/${bytes.length}` }, body: bytes.subarray(start, end + 1) };
  }

  /** distribution's paging: sorted, after `last`, `n` at most, a Link to the rest. */
  private tagList(name: string, all: string[], query: URLSearchParams): Answer {
    const last = query.get('last');
    const n = query.has('n') ? Number(query.get('n')) : this.tagPageSize;
    const after = last ? all.filter((t) => t > last) : all;
    const page = n === undefined ? after : after.slice(0, n);
    const more = n !== undefined && after.length > page.length && page.length > 0;
    const link = more ? { link: `</v2/${name}/tags/list?${new URLSearchParams({ n: String(n), last: page[page.length - 1]! })}>; rel="next"` } : undefined;
    return json(200, { name, tags: page }, link);
  }
}

/** Deterministic bytes that differ per seed and position (a flipped byte anywhere is a different blob). */
export function patterned(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i, 0, Math.min(block.length, size - i));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

function safeParse(b: Buffer): { mediaType?: unknown; subject?: { digest?: unknown }; artifactType?: unknown } | undefined {
  try { return JSON.parse(b.toString('utf8')) as ReturnType<typeof safeParse>; } catch { return undefined; }
}
