import type { Action } from '../auth/access.js';

/** What a request under /v2/ needs, decided from its method and path alone (before any work). */
export type Need =
  | { kind: 'ping' }
  | { kind: 'catalog' }
  | { kind: 'repo'; name: string; action: Action }
  | { kind: 'none' };

const REPO_ROUTES: [RegExp, 'upload' | 'manifest' | 'blob' | 'tags' | 'referrers'][] = [
  [/^(.+)\/blobs\/uploads(?:\/.*)?$/, 'upload'],
  [/^(.+)\/manifests\/(.+)$/, 'manifest'],
  [/^(.+)\/blobs\/(.+)$/, 'blob'],
  [/^(.+)\/tags\/list$/, 'tags'],
  [/^(.+)\/referrers\/([^/]+)$/, 'referrers'],
];

/**
 * The access a request needs. Names are matched as the client wrote them (the same routing
 * regexes as the gateway: greedy, so the last marker wins). Reads need `pull`; uploads, manifest
 * PUT and cancelling an upload need `push`; deleting a manifest, tag or blob needs `delete`.
 */
export function requiredAccess(method: string, path: string): Need {
  if (path === '' || path === '/') return { kind: 'ping' };
  if (path === '_catalog') return { kind: 'catalog' };
  for (const [re, kind] of REPO_ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const name = m[1]!;
    if (method === 'GET' || method === 'HEAD') return { kind: 'repo', name, action: kind === 'upload' ? 'push' : 'pull' };
    if (method === 'DELETE' && kind !== 'upload') return { kind: 'repo', name, action: 'delete' };
    return { kind: 'repo', name, action: 'push' };
  }
  return { kind: 'none' };
}

/** The scope string a client should request for a need (what goes in the 401 challenge). */
export function scopeFor(need: Need): string | undefined {
  if (need.kind === 'catalog') return 'registry:catalog:*';
  if (need.kind !== 'repo') return undefined;
  // Docker clients ask pull+push for any push; asking for the same avoids a second round trip.
  return `repository:${need.name}:${need.action === 'push' ? 'pull,push' : need.action}`;
}
