import { canonicalRegistry, isValidHost, looksLikeHost, validateName } from './reference.js';
import { RegistryError } from './errors.js';
import { HOSTED_REGISTRY, type RepoKey } from './repo.js';
import { matchesAny, repoPattern, type RepoPattern } from './patterns.js';
import type { ApiPath } from './api-path.js';
import { PairMemo } from './memo.js';

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

/** A repository as a request addresses it, after routing. */
export interface RoutedRepo extends RepoKey {
  /** Whether it is a hosted (pushable, local-only) repository. */
  hosted: boolean;
  /** containerd's `ns` parameter, when the request carried one. */
  ns?: string;
}

/**
 * Routes repository names as clients write them to the repository regway serves. Built from the
 * configuration and replaced as a whole on reload, so authorization and dispatch always route with
 * the same table: hosted patterns first (never for requests with `ns`, which are mirror requests
 * for another registry), then `resolveRepository`.
 */
export class RepoRouter {
  private readonly hosted: RepoPattern[];

  constructor(readonly defaultRegistry: string, hostedPatterns: readonly string[] = []) {
    this.hosted = hostedPatterns.map(repoPattern);
  }

  get hasHosted(): boolean { return this.hosted.length > 0; }

  /**
   * Names routed before (the same few repositories take nearly every request): routing validates
   * and matches patterns, which showed on warm hits. Keyed by (ns, name) as two keys, never one
   * joined string; a reload builds a new router, so an answer never outlives its table; answers are
   * frozen, as every request shares them.
   */
  private readonly seen = new PairMemo<RoutedRepo>();

  route(rawName: string, ns?: string): RoutedRepo {
    const known = this.seen.get(ns ?? '', rawName);
    if (known) return known;
    const routed = Object.freeze(this.routeOnce(rawName, ns));
    this.seen.set(ns ?? '', rawName, routed);
    return routed;
  }

  private routeOnce(rawName: string, ns?: string): RoutedRepo {
    if (!ns && this.hosted.length > 0 && matchesAny(this.hosted, rawName)) {
      return { registry: HOSTED_REGISTRY, name: validateName(rawName), hosted: true };
    }
    const r = resolveRepository(rawName, ns, this.defaultRegistry);
    return { ...r, hosted: false };
  }

  /**
   * The repository a token scope names (`repository:<name>:pull`): routed like a path without
   * `ns`, so `library/alpine`, `alpine` and `docker.io/library/alpine` are one repository.
   * Undefined for a name that is not valid (`users/bob/../alice/x`): such a scope grants nothing.
   */
  scopeKey(name: string): RepoKey | undefined {
    try {
      const r = this.route(name);
      return { registry: r.registry, name: r.name };
    } catch {
      return undefined;
    }
  }
}

/** A `/v2/...` request, parsed and routed once; authorization, dispatch and the audit log read it. */
export interface ApiRequest extends ApiPath {
  /** The repository the request is routed to (absent for ping and catalog). */
  repo?: RoutedRepo;
}
