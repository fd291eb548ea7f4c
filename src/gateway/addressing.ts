import { canonicalRegistry, isValidHost, looksLikeHost, validateName } from '../oci/reference.js';
import { RegistryError } from '../oci/errors.js';
import type { RepoKey } from '../store/paths.js';

/**
 * Decides which registry a request is for, so one endpoint serves every registry:
 *  1. `?ns=<registry>`: what containerd sends to a mirror;
 *  2. a registry host as the first path segment: `/v2/ghcr.io/org/app/...`;
 *  3. otherwise the default registry (Docker Hub), which is what dockerd's registry-mirrors sends.
 * Docker Hub names of one segment get `library/`, as every client does.
 */
export function resolveRepository(rawName: string, ns: string | undefined, defaultRegistry: string): RepoKey & { ns?: string } {
  let registry: string;
  let name = rawName;
  if (ns) {
    if (!isValidHost(ns)) throw new RegistryError('NAME_INVALID', 'the ns parameter is not a registry host', { ns: ns.slice(0, 300) });
    registry = canonicalRegistry(ns);
  } else {
    const slash = rawName.indexOf('/');
    const first = slash > 0 ? rawName.slice(0, slash) : '';
    if (first && looksLikeHost(first)) {
      registry = canonicalRegistry(first);
      name = rawName.slice(slash + 1);
    } else {
      registry = canonicalRegistry(defaultRegistry);
    }
  }
  if (registry === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  validateName(name);
  return ns ? { registry, name, ns } : { registry, name };
}
