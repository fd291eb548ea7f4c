import { RegistryError } from '../oci/errors.js';
import { digestOf, parseDigest, isDigest, type Algorithm, type Digest } from '../oci/digest.js';
import { MANIFEST_TYPES, MT, bareType } from '../oci/mediatypes.js';
import { isIndex, parseManifest, type Descriptor, type ManifestInfo } from '../oci/manifest.js';

export { MAX_MANIFEST_BYTES } from '../oci/manifest.js';

export interface CheckedManifest {
  digest: Digest;
  mediaType: string;
  info: ManifestInfo;
  /** Blobs (config, layers) that must exist in the repository. */
  blobs: Descriptor[];
  /** Child manifests (of an index) that must exist in the repository. */
  manifests: Descriptor[];
  /** Descriptors whose digest is malformed or of an algorithm we cannot hold: always missing. */
  unknowable: Descriptor[];
}

/**
 * The spec's manifest PUT checklist ("Pushing Manifests", steps 2–6), pure: digest, JSON, schema
 * version, media type against Content-Type, supported types, and the list of referenced content
 * to look up. Never requires the `subject`; exempts foreign and non-distributable layers and any
 * descriptor with `urls`, which clients never push.
 */
export function checkManifest(bytes: Buffer, contentType: string | undefined, ref: { kind: 'tag' | 'digest'; value: string }): CheckedManifest {
  const alg: Algorithm = ref.kind === 'digest' ? parseDigest(ref.value).algorithm : 'sha256';
  const digest = parseDigest(digestOf(bytes, alg));
  if (ref.kind === 'digest' && ref.value !== digest.value) {
    throw new RegistryError('DIGEST_INVALID', `the manifest's digest is ${digest.value}, not ${ref.value}`, { digest: ref.value });
  }
  const info = parseManifest(bytes);
  const ct = bareType(contentType);
  const declared = parseDeclaredType(bytes);
  if (info.schemaVersion !== 2) throw new RegistryError('MANIFEST_INVALID', 'schemaVersion must be 2 (schema1 is not accepted)');
  if (declared && ct && ct !== declared && !isGenericType(ct)) {
    throw new RegistryError('MANIFEST_INVALID', `mediaType ${declared} does not match Content-Type ${ct}`);
  }
  const mediaType = declared ?? (isGenericType(ct) ? '' : ct);
  if (!MANIFEST_TYPES.includes(mediaType)) {
    throw new RegistryError('MANIFEST_INVALID', `unsupported manifest media type "${mediaType.slice(0, 100)}"`, { mediaType: mediaType.slice(0, 100) });
  }
  const out: CheckedManifest = { digest, mediaType, info: { ...info, mediaType }, blobs: [], manifests: [], unknowable: [] };
  if (isIndex(mediaType)) {
    for (const d of info.manifests) sortDescriptor(d, out.manifests, out);
  } else {
    if (!info.config || typeof info.config.digest !== 'string') throw new RegistryError('MANIFEST_INVALID', 'an image manifest needs a config descriptor');
    for (const d of [info.config, ...info.layers]) if (!exempt(d)) sortDescriptor(d, out.blobs, out);
  }
  return out;
}

function sortDescriptor(d: Descriptor, into: Descriptor[], out: CheckedManifest): void {
  if (isDigest(d.digest)) into.push(d); else out.unknowable.push(d);
}

/** Layers clients never push: foreign (Windows base layers), non-distributable, or fetched by URL. */
function exempt(d: Descriptor): boolean {
  if (Array.isArray(d.urls) && d.urls.length > 0) return true;
  const mt = typeof d.mediaType === 'string' ? d.mediaType : '';
  return mt.includes('nondistributable') || mt.includes('.foreign.');
}

/** Clients that send no manifest type (curl, scripts) give these; then the body's mediaType rules. */
function isGenericType(ct: string): boolean {
  return ct === '' || ct === 'application/json' || ct === 'application/octet-stream';
}

function parseDeclaredType(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  } catch { return undefined; }
}

/** The empty-JSON config descriptor, exported for tests and artifact pushes. */
export const EMPTY_JSON = { mediaType: MT.ociEmpty, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 } as const;
