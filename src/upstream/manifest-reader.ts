import { digestOf, parseDigest, type Digest } from '../oci/digest.js';
import { isRegistryError } from '../oci/errors.js';
import { MANIFEST_TYPES, bareType } from '../oci/mediatypes.js';
import { MAX_MANIFEST_BYTES, parseManifest, type ManifestInfo } from '../oci/manifest.js';
import { header, readCappedBytes, type UpstreamResponse } from '../client/upstream-client.js';
import { BadUpstreamContent, upstreamError, type Routed } from './registry-upstreams.js';

const MANIFEST_SET: ReadonlySet<string> = new Set(MANIFEST_TYPES);
/** Content types some registries send for a manifest whose own mediaType field says what it is. */
const GENERIC = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

export interface UpstreamManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
  info: ManifestInfo;
  upstream: string;
}

/**
 * Reads and checks one upstream's manifest answer (the reader for RegistryUpstreams.fetch).
 * Every upstream byte and header is hostile until checked: the body is read with a cap; its
 * digest must be the one asked for (or announced); it must be a JSON manifest of a manifest or
 * index media type, with a Content-Type that agrees. Anything else, or a body that breaks or
 * stalls, fails this upstream and the next one is asked: it is never cached nor served, so an
 * upstream cannot make the gateway's origin serve an HTML page.
 */
export async function readManifest(res: Routed, want: Digest | undefined, ref: string): Promise<UpstreamManifest> {
  if (res.status !== 200) throw upstreamError(res, 'manifest', { reference: ref });
  return readManifestBody(res, res.upstream.id, want);
}

/**
 * The checks of readManifest on a 200 answer from one endpoint `id`: also what the diagnostics
 * (inspect, warm, bench, the doctor) use, so they judge a registry's manifests as the gateway does.
 * Throws BadUpstreamContent naming what is wrong.
 */
export async function readManifestBody(res: UpstreamResponse, id: string, want?: Digest): Promise<UpstreamManifest> {
  const declared = Number(header(res.headers, 'content-length') ?? 0);
  if (declared > MAX_MANIFEST_BYTES) throw new BadUpstreamContent(`upstream ${id} manifest is ${declared} bytes, over the ${MAX_MANIFEST_BYTES} limit`, 'too_large');
  const raw = await readCappedBytes(res.body, MAX_MANIFEST_BYTES + 1);
  if (raw.length > MAX_MANIFEST_BYTES) throw new BadUpstreamContent(`upstream ${id} manifest is over the ${MAX_MANIFEST_BYTES} byte limit`, 'too_large');
  if (declared > 0 && raw.length !== declared) throw new BadUpstreamContent(`upstream ${id} manifest body has ${raw.length} of ${declared} bytes`, 'body_error');
  const announced = header(res.headers, 'docker-content-digest');
  const alg = want?.algorithm ?? (announced?.startsWith('sha512:') ? 'sha512' : 'sha256');
  const digest = parseDigest(digestOf(raw, alg));
  const expected = want?.value ?? announced;
  if (expected && expected !== digest.value) throw new BadUpstreamContent(`upstream ${id} sent a manifest whose digest ${digest.value} does not match ${expected.slice(0, 80)}; not cached`, 'digest_mismatch');
  let info: ManifestInfo;
  try { info = parseManifest(raw); } catch (e) {
    if (isRegistryError(e)) throw new BadUpstreamContent(`upstream ${id} sent something that is not a manifest: ${e.message}`, 'not_a_manifest');
    throw e;
  }
  const mediaType = manifestType(bareType(header(res.headers, 'content-type')), info.declaredMediaType, id);
  if (info.schemaVersion !== 2) throw new BadUpstreamContent(`upstream ${id} sent a manifest with schemaVersion ${info.schemaVersion}; only version 2 is served`, 'not_a_manifest');
  return { bytes: raw, mediaType, digest, info: { ...info, mediaType }, upstream: id };
}

/** The media type to store and serve: a manifest or index type, agreed by header and body. */
function manifestType(contentType: string, body: string | undefined, id: string): string {
  if (MANIFEST_SET.has(contentType)) {
    if (body !== undefined && body !== contentType) throw new BadUpstreamContent(`upstream ${id} sent a manifest whose mediaType ${body.slice(0, 100)} contradicts its Content-Type ${contentType}`, 'bad_media_type');
    return contentType;
  }
  if (GENERIC.has(contentType) && body !== undefined && MANIFEST_SET.has(body)) return body;
  throw new BadUpstreamContent(`upstream ${id} sent a manifest of media type ${(contentType || body || 'none').slice(0, 100)}, which is not a manifest or index type; refused`, 'bad_media_type');
}
