/**
 * Storage layout (for operators: docs/storage.md). Every key is built here from a validated digest, registry and repository name,
 * so nothing a client sends reaches a path unchecked.
 *
 *   blobs/<alg>/<hex[0:2]>/<hex>                        content: layers, configs and manifests, by digest
 *   repositories/<registry>/<name>/_tags/<tag>          JSON TagEntry (tag -> digest, fetched time)
 *   repositories/<registry>/<name>/_manifests/<alg>/<hex>   JSON ManifestLink (media type, size)
 *   repositories/<registry>/<name>/_blobs/<alg>/<hex>       JSON BlobLink {size} (empty before sizes were recorded): this repository may read this blob
 *   repositories/<registry>/<name>/_referrers/<alg>-<hex>/<alg>-<hex>   JSON descriptor of a referrer
 *   _tmp/<uuid>                                         writes in progress (removed at start)
 *   quarantine/<key>                                    damaged blobs put aside by `regway verify`
 *   maintenance/verify-progress.json                    `regway verify`'s last finished shard
 *   hosted/blobs/<alg>/<hex[0:2]>/<hex>                 content pushed to hosted repositories (never evicted)
 *   hosted/uploads/<uuid>/state.json                    JSON upload session (survives restarts)
 *   hosted/uploads/<uuid>/chunk-<n>                     bytes of the n-th accepted chunk
 *   repositories/_hosted/<name>/...                     hosted repositories' metadata, same layout as above
 */
import type { Digest } from '../oci/digest.js';
import type { RepoKey } from '../oci/repo.js';

export type { RepoKey };

const enc = (registry: string) => registry.replace(/:/g, '_'); // port colon is safe but keep keys portable

export const blobKey = (d: Digest) => `blobs/${d.algorithm}/${d.encoded.slice(0, 2)}/${d.encoded}`;
export const repoPrefix = (r: RepoKey) => `repositories/${enc(r.registry)}/${r.name}`;
export const tagKey = (r: RepoKey, tag: string) => `${repoPrefix(r)}/_tags/${tag}`;
export const manifestLinkKey = (r: RepoKey, d: Digest) => `${repoPrefix(r)}/_manifests/${d.algorithm}/${d.encoded}`;
export const blobLinkKey = (r: RepoKey, d: Digest) => `${repoPrefix(r)}/_blobs/${d.algorithm}/${d.encoded}`;
export const referrerKey = (r: RepoKey, subject: Digest, d: Digest) =>
  `${repoPrefix(r)}/_referrers/${subject.algorithm}-${subject.encoded}/${d.algorithm}-${d.encoded}`;
export const referrersPrefix = (r: RepoKey, subject: Digest) => `${repoPrefix(r)}/_referrers/${subject.algorithm}-${subject.encoded}`;

/** Inverse of the repository part of the layout, for the catalog: key -> "registry/name". */
export function repoFromTagKey(key: string): { registry: string; name: string } | undefined {
  const m = /^repositories\/([^/]+)\/(.+)\/_(?:tags|manifests)\//.exec(key);
  if (!m) return undefined;
  return { registry: m[1]!.replace(/_(\d+)$/, ':$1'), name: m[2]! };
}

/** Hosted content lives apart from the cache's `blobs/`, so LRU eviction can never remove it. */
export const hostedBlobKey = (d: Digest) => `hosted/blobs/${d.algorithm}/${d.encoded.slice(0, 2)}/${d.encoded}`;
export const HOSTED_BLOBS_PREFIX = 'hosted/blobs';
export const UPLOADS_PREFIX = 'hosted/uploads';
/** Where `regway verify` keeps damaged bytes, under the key they had. */
export const quarantineKey = (key: string) => `quarantine/${key}`;
/** `regway verify`'s progress (the last finished shard), for --resume. */
export const VERIFY_PROGRESS_KEY = 'maintenance/verify-progress.json';
/** `id` must be validated (a UUID) by the caller before it reaches a key. */
export const uploadStateKey = (id: string) => `${UPLOADS_PREFIX}/${id}/state.json`;
export const uploadChunkKey = (id: string, n: number) => `${UPLOADS_PREFIX}/${id}/chunk-${n}`;
