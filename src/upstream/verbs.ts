import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { MT } from '../oci/mediatypes.js';
import type { Descriptor } from '../oci/manifest.js';
import { paginate } from '../oci/paging.js';
import { drain, header, readCappedBytes } from '../client/upstream-client.js';
import { upstreamRefused } from '../obs/channels.js';
import type { Logger } from '../obs/logger.js';
import { BadUpstreamContent, upstreamError, type RegistryUpstreams, type Routed } from './registry-upstreams.js';
import { readManifest, type UpstreamManifest } from './manifest-reader.js';
import { blobRequest, manifestRequest, referrersRequest, tagsRequest } from './requests.js';
import type { Upstream } from './upstream.js';

/**
 * The registry API of a registry's upstreams, as typed verbs: each builds its request, maps the
 * answer's statuses once, reads bodies with a cap and checks them, and fails over (through
 * RegistryUpstreams) on anything an upstream gets wrong. Nothing above this speaks HTTP paths or
 * statuses to an upstream.
 */

const MAX_LIST_BYTES = 8 * 1024 * 1024;
/** A whole tag list (no `n`) is gathered up to this many tags or bytes; past that, the client pages. */
const MAX_TAGS = 50_000;
const MAX_TAG_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 50;

export type { UpstreamManifest };

/** GET a manifest (by tag, or by digest `want`), checked: see readManifest. */
export function getManifest(ups: RegistryUpstreams, name: string, ref: string, want?: Digest): Promise<UpstreamManifest> {
  return ups.fetch(manifestRequest('GET', name, ref), { resolvesTag: want === undefined }, (res) => readManifest(res, want, ref));
}

/** HEAD a tag (which Docker Hub does not count against its rate limit): the digest it points at now. */
export async function headManifest(ups: RegistryUpstreams, name: string, tag: string): Promise<{ digest?: string; upstream: string }> {
  const res = await ups.send(manifestRequest('HEAD', name, tag), { resolvesTag: true });
  await drain(res);
  if (res.status !== 200) throw upstreamError(res, 'manifest', { reference: tag });
  return { digest: header(res.headers, 'docker-content-digest'), upstream: res.upstream.id };
}

/** HEAD a blob: whether the repository has it upstream, and its size. */
export async function headBlob(ups: RegistryUpstreams, name: string, digest: Digest): Promise<{ size?: number; upstream: string }> {
  const res = await ups.send(blobRequest('HEAD', name, digest.value));
  await drain(res);
  if (res.status !== 200) throw upstreamError(res, 'blob', { digest: digest.value });
  const size = Number(header(res.headers, 'content-length'));
  return { ...(Number.isSafeInteger(size) && size >= 0 ? { size } : {}), upstream: res.upstream.id };
}

/** A body to append; `skip` bytes are dropped first (an upstream that ignored our Range). */
/** `upstream`: which one sent it (for byte accounting by source). */
export interface SourceBody { size?: number; body: AsyncIterable<Uint8Array>; skip?: number; upstream?: string }
/**
 * Opens the source at `offset` (0 first; later after a break, with why the last one broke).
 * `restart`: the bytes so far were wrong (digest or length): the source that sent them failed,
 * and the whole blob is asked again, from byte 0, of the next source.
 */
export type OpenSource = (offset: number, brokeBecause?: string, restart?: boolean) => Promise<SourceBody>;

/**
 * The source of one blob download across upstreams, owning resume. Offset 0 is the first request.
 * A later call means the previous stream broke (or, with `restart`, sent wrong bytes or a wrong
 * length): that upstream is charged a failure and excluded, and the next one is asked for the rest
 * with a Range (or for everything again, from byte 0, after wrong bytes); one that ignores Range
 * (200) has the bytes already written skipped. An upstream whose answer does not fit (a length
 * that disagrees with the manifest, a resume at the wrong offset) fails over before any byte flows.
 */
export function blobSource(ups: RegistryUpstreams, name: string, digest: Digest, opts: { expected?: number; log: Logger }): OpenSource {
  const { expected, log } = opts;
  const tried = new Set<Upstream>();
  let current: Upstream | undefined;
  return async (offset, brokeBecause, restart) => {
    if (current) {
      const reason = !restart ? 'body_error' : /digest/.test(brokeBecause ?? '') ? 'digest_mismatch' : 'size_mismatch';
      current.health.failure(`blob ${restart ? 'bytes were wrong' : 'stream broke'}: ${brokeBecause ?? 'unknown'}`);
      upstreamRefused(current.id, reason);
      tried.add(current);
      log.warn({ registry: ups.registry, digest: digest.value, upstream: current.id, offset, reason: brokeBecause }, restart ? 'upstream sent wrong bytes; fetching the blob again from the next upstream' : 'blob stream broke');
    }
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    return ups.fetch(blobRequest('GET', name, digest.value, headers), { exclude: tried }, async (res) => {
      current = res.upstream;
      if (res.status !== 200 && res.status !== 206) throw upstreamError(res, 'blob', { digest: digest.value });
      const cl = header(res.headers, 'content-length');
      if (offset === 0) {
        if (res.status === 206) throw new BadUpstreamContent(`upstream ${res.upstream.id} answered a whole-blob GET with a partial 206`, 'bad_range');
        const size = cl !== undefined ? Number(cl) : undefined;
        if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) throw new BadUpstreamContent(`upstream ${res.upstream.id} sent Content-Length ${cl!.slice(0, 40)} for ${digest.value}`, 'body_error');
        if (expected !== undefined && size !== undefined && size !== expected) throw new BadUpstreamContent(`upstream ${res.upstream.id} announced ${size} bytes for ${digest.value}; the manifest says ${expected}`, 'size_mismatch');
        log.debug({ registry: ups.registry, repository: name, digest: digest.value, upstream: res.upstream.id, size: cl }, 'fetching blob');
        return { size, body: res.body, upstream: res.upstream.id };
      }
      log.warn({ registry: ups.registry, repository: name, digest: digest.value, upstream: res.upstream.id, offset, status: res.status, reason: brokeBecause }, 'blob stream broke; resuming from the next upstream');
      if (res.status === 206) {
        const start = Number(/bytes (\d+)-/.exec(header(res.headers, 'content-range') ?? '')?.[1] ?? -1);
        if (start !== offset) throw new BadUpstreamContent(`upstream ${res.upstream.id} answered a resume at ${offset} with range start ${start}`, 'bad_range');
        return { body: res.body, upstream: res.upstream.id };
      }
      return { body: res.body, skip: offset, upstream: res.upstream.id };
    });
  };
}

/**
 * A page of the upstream's tags, owning Link paging. With the client's `n`/`last`: that page,
 * asked of the upstream as such (and cut again here, for upstreams that ignore n). Without: every
 * page up to the caps; past them, what was gathered and the `last` where the client continues.
 */
export async function listTags(ups: RegistryUpstreams, name: string, n?: string, last?: string): Promise<{ tags: string[]; next?: string }> {
  if (n !== undefined || last !== undefined) {
    const q = new URLSearchParams();
    if (n !== undefined) q.set('n', n);
    if (last !== undefined) q.set('last', last);
    const page = await tagPage(ups, name, `?${q}`);
    const mine = paginate(page.tags.sort(), n, last);
    const next = mine.next ?? (page.more && mine.page.length > 0 ? mine.page[mine.page.length - 1] : undefined);
    return { tags: mine.page, ...(next !== undefined ? { next } : {}) };
  }
  const all = new Set<string>();
  let query: string | undefined;
  let bytes = 0;
  for (let p = 0; p < MAX_TAG_PAGES; p++) {
    const page = await tagPage(ups, name, query);
    bytes += page.bytes;
    for (const t of page.tags) all.add(t);
    if (!page.more) return { tags: [...all].sort() };
    if (all.size >= MAX_TAGS || bytes >= MAX_TAG_BYTES) break;
    query = page.more;
  }
  const sorted = [...all].sort().slice(0, MAX_TAGS);
  return { tags: sorted, next: sorted[sorted.length - 1] };
}

/** One page of the upstream's tag list; `more` is the query of the next page (the upstream's Link). */
function tagPage(ups: RegistryUpstreams, name: string, query: string | undefined): Promise<{ tags: string[]; more?: string; bytes: number }> {
  return ups.fetch(tagsRequest(name, query), {}, async (res) => {
    // The tag list's 404 is about the repository ("Listing Tags": NAME_UNKNOWN), not a manifest.
    if (res.status === 404) throw new RegistryError('NAME_UNKNOWN', undefined, { name });
    if (res.status !== 200) throw upstreamError(res, 'manifest', {});
    const doc = await readJson(res, 'not_a_tag_list') as { tags?: unknown; bytes: number };
    const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string' && t.length <= 128) : [];
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res.headers, 'link') ?? '');
    return { tags, bytes: doc.bytes, ...(next ? { more: new URL(next[1]!, 'http://x').search } : {}) };
  });
}

/**
 * The subject's referrers as the upstream lists them: its referrers API, or, when it has none
 * (404), the "Referrers Tag Schema" index clients keep under `<alg>-<hex>`, which a client told
 * our API exists never reads itself.
 */
export async function listReferrers(ups: RegistryUpstreams, name: string, subject: Digest, artifactType?: string): Promise<{ manifests: Descriptor[]; filtered: boolean; tagSchema: boolean }> {
  const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : undefined;
  const api = await ups.fetch(referrersRequest(name, subject.value, MT.ociIndex, query), {}, async (res) => {
    if (res.status === 404) { await drain(res); return undefined; }
    if (res.status !== 200) throw upstreamError(res, 'manifest', { digest: subject.value });
    const doc = await readJson(res, 'not_an_index') as { manifests?: unknown };
    return { manifests: descriptors(doc.manifests), filtered: (header(res.headers, 'oci-filters-applied') ?? '').includes('artifactType'), tagSchema: false };
  });
  if (api) return api;
  const tag = `${subject.algorithm.slice(0, 32)}-${subject.encoded.slice(0, 64)}`;
  return ups.fetch(manifestRequest('GET', name, tag, MT.ociIndex), { resolvesTag: true }, async (res) => {
    if (res.status === 404) { await drain(res); return { manifests: [], filtered: false, tagSchema: true }; }
    if (res.status !== 200) throw upstreamError(res, 'manifest', { tag });
    // The index is whatever clients wrote there: not JSON is no referrers, not an upstream fault.
    const doc = await readJson(res, 'not_an_index').catch(() => ({ manifests: [] })) as { manifests?: unknown };
    return { manifests: descriptors(doc.manifests), filtered: false, tagSchema: true };
  });
}

/** Only well-formed descriptors. */
function descriptors(v: unknown): Descriptor[] {
  return Array.isArray(v) ? (v as Descriptor[]).filter((d) => d && typeof d.digest === 'string' && typeof d.mediaType === 'string') : [];
}

/** A JSON body read with a cap; anything else fails that upstream (the next one is asked). */
async function readJson(res: Routed, reason: string): Promise<Record<string, unknown> & { bytes: number }> {
  const raw = await readCappedBytes(res.body, MAX_LIST_BYTES + 1);
  if (raw.length > MAX_LIST_BYTES) throw new BadUpstreamContent(`upstream ${res.upstream.id} sent a list over ${MAX_LIST_BYTES} bytes`, 'too_large');
  try {
    const doc = JSON.parse(raw.toString('utf8')) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return Object.assign(doc as Record<string, unknown>, { bytes: raw.length });
  } catch {
    throw new BadUpstreamContent(`upstream ${res.upstream.id} sent a body that is not a JSON object`, reason);
  }
}
