export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Every manifest media type we pass through. Order is the Accept we send upstream. */
export const MANIFEST_TYPES: readonly string[] = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest];
export const INDEX_TYPES: ReadonlySet<string> = new Set([MT.ociIndex, MT.dockerList]);

/** Media type without parameters, lowercased. */
export function bareType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses the Accept values a client sent (Node joins repeated lines with ", ") into bare types.
 * Returns undefined when the client accepts anything.
 */
export function parseAccept(header: string | string[] | undefined): Set<string> | undefined {
  if (header === undefined) return undefined;
  const raw = Array.isArray(header) ? header.join(',') : header;
  const types = new Set<string>();
  for (const part of raw.split(',')) {
    const t = bareType(part);
    if (t === '*/*' || t === 'application/*') return undefined;
    if (t) types.add(t);
  }
  return types.size ? types : undefined;
}

/**
 * Whether a stored manifest of `mediaType` may be served to a client that sent `accept`.
 * A client that lists no manifest types at all (curl, old tools) gets what is stored:
 * we never convert formats, and refusing would break tools that send `Accept: application/json`.
 */
export function acceptable(mediaType: string, accept: Set<string> | undefined): boolean {
  if (!accept) return true;
  if (accept.has(mediaType)) return true;
  const knowsAny = MANIFEST_TYPES.some((t) => accept.has(t));
  return !knowsAny;
}
