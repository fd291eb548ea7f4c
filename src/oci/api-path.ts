/**
 * The distribution API's URL grammar, in one table: every part of regway that needs to know what
 * a `/v2/...` request is for (authorization, dispatch, the hosted write side, the audit log) reads
 * the one parse of it, so an access rule can never check one name while a handler serves another.
 */
type ApiKind = 'ping' | 'catalog' | 'manifest' | 'blob' | 'tags' | 'referrers' | 'upload';

export interface ApiPath {
  kind: ApiKind;
  /** Repository name as written in the path (before routing); absent for ping and catalog. */
  name?: string;
  /** Manifest reference, blob digest or referrers subject, as written. */
  reference?: string;
  /** Upload session id (`…/blobs/uploads/<id>`); absent when starting an upload. */
  uploadId?: string;
}

// [pattern, kind, a literal the pattern needs (cheap pre-check before the backtracking regex)].
// Names are greedy so the last marker wins; references may contain "/" only in malformed
// requests, matched anyway so they get the spec's DIGEST_INVALID / TAG_INVALID, not a routing 404.
const ROUTES: readonly [RegExp, ApiKind, string][] = [
  [/^(.+)\/blobs\/uploads\/?$/, 'upload', '/blobs/uploads'],
  [/^(.+)\/blobs\/uploads\/(.+)$/, 'upload', '/blobs/uploads/'],
  [/^(.+)\/manifests\/(.+)$/, 'manifest', '/manifests/'],
  [/^(.+)\/blobs\/(.+)$/, 'blob', '/blobs/'],
  [/^(.+)\/tags\/list$/, 'tags', '/tags/list'],
  [/^(.+)\/referrers\/([^/]+)$/, 'referrers', '/referrers/'],
];

/** Parses the part after `/v2/`; undefined when it is no API endpoint. */
export function parseApiPath(path: string): ApiPath | undefined {
  if (path === '') return { kind: 'ping' };
  if (path === '_catalog') return { kind: 'catalog' };
  for (const [re, kind, marker] of ROUTES) {
    const m = path.includes(marker) ? re.exec(path) : null;
    if (!m) continue;
    if (kind === 'upload') return m[2] === undefined ? { kind, name: m[1]! } : { kind, name: m[1]!, uploadId: m[2] };
    return m[2] === undefined ? { kind, name: m[1]! } : { kind, name: m[1]!, reference: m[2] };
  }
  return undefined;
}

/** Where the name ends in the path: the position of the marker that follows it. */
export function nameEnd(path: string, kind: ApiKind): number {
  return path.lastIndexOf(MARKERS[kind]);
}
const MARKERS: Record<ApiKind, string> = {
  ping: '', catalog: '', upload: '/blobs/uploads', manifest: '/manifests/', blob: '/blobs/', tags: '/tags/list', referrers: '/referrers/',
};

export type Action = 'pull' | 'push' | 'delete';

/**
 * The access a request needs: reads pull; uploads (including status and cancel) and manifest PUT
 * push; DELETE of a manifest, tag or blob delete. Ping and catalog are decided apart.
 */
export function requiredAction(method: string, kind: ApiKind): Action {
  if (kind === 'upload') return 'push';
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE') return 'delete';
  return 'push';
}
