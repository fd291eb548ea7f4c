import { INDEX_TYPES, bareType } from './mediatypes.js';
import { RegistryError } from './errors.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
  urls?: string[];
}

/** What the gateway needs to know about a manifest; the bytes themselves are never re-serialized. */
/** Manifests larger than this are refused: containerd and containers/image refuse them too. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ManifestInfo {
  mediaType: string;
  /** The body's own `mediaType` field, when it has one. */
  declaredMediaType?: string;
  schemaVersion: number;
  /** Child manifests of an index. */
  manifests: Descriptor[];
  config?: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptors(v: unknown): Descriptor[] {
  return Array.isArray(v) ? v.filter(isObj).filter((d) => typeof d.digest === 'string') as unknown as Descriptor[] : [];
}

/** Parses manifest bytes; `contentType` is what the server sent, used when the body has no mediaType. */
export function parseManifest(bytes: Uint8Array, contentType?: string): ManifestInfo {
  let doc: unknown;
  try { doc = JSON.parse(Buffer.from(bytes).toString('utf8')); } catch {
    throw new RegistryError('MANIFEST_INVALID', 'manifest is not valid JSON');
  }
  if (!isObj(doc)) throw new RegistryError('MANIFEST_INVALID', 'manifest is not a JSON object');
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : bareType(contentType);
  return {
    mediaType,
    declaredMediaType: typeof doc.mediaType === 'string' ? doc.mediaType : undefined,
    schemaVersion: typeof doc.schemaVersion === 'number' ? doc.schemaVersion : 0,
    manifests: descriptors(doc.manifests),
    config: isObj(doc.config) ? (doc.config as unknown as Descriptor) : undefined,
    layers: descriptors(doc.layers),
    subject: isObj(doc.subject) && typeof doc.subject.digest === 'string' ? (doc.subject as unknown as Descriptor) : undefined,
    artifactType: typeof doc.artifactType === 'string' ? doc.artifactType : undefined,
    annotations: isObj(doc.annotations) ? (doc.annotations as Record<string, string>) : undefined,
  };
}

export function isIndex(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

/** The referrers-API descriptor for a manifest that has a subject (spec "Listing Referrers"). */
export function referrerDescriptor(info: ManifestInfo, digest: string, size: number): Descriptor {
  const artifactType = info.artifactType ?? (isIndex(info.mediaType) ? undefined : info.config?.mediaType);
  return {
    mediaType: info.mediaType,
    digest,
    size,
    ...(artifactType ? { artifactType } : {}),
    ...(info.annotations ? { annotations: info.annotations } : {}),
  };
}
