/**
 * A repository as regway stores and authorizes it: the registry it is routed to and its name
 * there. Every addressing form of one image (containerd's `?ns=`, a host as the first path
 * segment, the default registry with or without `library/`) resolves to one RepoKey, and access
 * rules, the cache, metrics and the audit log all see that same key.
 */
export interface RepoKey { registry: string; name: string }

/** The storage "registry" of hosted repositories: not a valid host, so it never meets a proxied one. */
export const HOSTED_REGISTRY = '_hosted';

export function isHosted(key: RepoKey): boolean { return key.registry === HOSTED_REGISTRY; }

/** The catalog's name for a repository: bare on the default registry and for hosted ones, else prefixed by its registry. */
export function displayName(r: RepoKey, defaultRegistry: string): string {
  return r.registry === HOSTED_REGISTRY || r.registry === defaultRegistry ? r.name : `${r.registry}/${r.name}`;
}

/**
 * The one name of a repository in access rules, token scopes and challenges: `registry/name` for
 * pull-through repositories (`docker.io/library/alpine`, `ghcr.io/org/app`), the name itself for
 * hosted ones (`local/app`).
 */
export function accessName(key: RepoKey): string {
  return isHosted(key) ? key.name : `${key.registry}/${key.name}`;
}

export function sameRepo(a: RepoKey, b: RepoKey): boolean {
  return a.registry === b.registry && a.name === b.name;
}
