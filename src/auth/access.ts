import type { AccessRuleConfig } from '../config/hosted-schema.js';
import { repoPattern } from '../oci/patterns.js';
import { canonicalRegistry, looksLikeHost } from '../oci/reference.js';
import { isHosted, type RepoKey } from '../oci/repo.js';
import type { Action } from '../oci/api-path.js';

export type { Action };
const REPO_ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** Who is asking: a user name, or nobody (anonymous). */
interface Subject { user?: string }

/** Matches routed repositories; built from one pattern of a rule. */
interface RepoMatcher {
  matches(key: RepoKey, user?: string): boolean;
  /** Whether the pattern can match some repository of this pull-through registry at all. */
  reaches(registry: string): boolean;
}

interface Rule {
  repositories: RepoMatcher[];
  users: Set<string>;
  groups: Set<string>;
  anonymous: boolean;
  actions: Set<Action>;
  catalog: boolean;
  observe: boolean;
}

/** When auth is on and no rules are written: signed-in users may do everything, anonymous nothing. */
export const DEFAULT_RULES: AccessRuleConfig[] = [{ repositories: ['**'], users: ['*'], groups: [], anonymous: false, actions: ['*', 'observe'] }];

/** Who may pull every pull-through repository without a rule naming it (`auth.pullThrough`). */
type PullThroughAccess = 'rules' | 'anonymous' | 'authenticated';

interface PolicyOptions {
  /** Registry of names written without a host (`library/alpine` means `docker.io/library/alpine`). */
  defaultRegistry: string;
  pullThrough?: PullThroughAccess;
}

/**
 * A rule's pattern as it applies to pull-through repositories, whose one name is
 * `registry/name`: a pattern without a registry host names the default registry, the way clients
 * write image names (`library/small` and `small` both mean `docker.io/library/small`); one that
 * starts with a wildcard is matched against the whole `registry/name`.
 */
export function pullThroughPattern(source: string, defaultRegistry: string): string {
  const segs = source.split('/');
  const first = segs[0]!;
  if (/[*{]/.test(first)) return source;
  const hosted = segs.length > 1 && looksLikeHost(first);
  const registry = canonicalRegistry(hosted ? first : defaultRegistry);
  let rest = hosted ? segs.slice(1) : segs;
  if (registry === 'docker.io' && rest.length === 1 && !/[*{]/.test(rest[0]!)) rest = ['library', rest[0]!];
  return [registry, ...rest].join('/');
}

function matcher(source: string, defaultRegistry: string): RepoMatcher {
  // Hosted repositories are named as written (`local/app`); pull-through ones as `registry/name`.
  const hosted = repoPattern(source);
  const normalized = pullThroughPattern(source, defaultRegistry);
  const proxied = repoPattern(normalized);
  const head = normalized.split('/')[0]!;
  return {
    matches: (key, user) => (isHosted(key) ? hosted.matches(key.name, user) : proxied.matches(`${key.registry}/${key.name}`, user)),
    reaches: (registry) => /[*{]/.test(head) || head === registry,
  };
}

const ANY_PULL_THROUGH: RepoMatcher = { matches: (key) => !isHosted(key), reaches: () => true };

/**
 * Access rules: repository patterns to actions, for users, groups and anonymous. Rules only
 * grant, they never deny, so their order does not matter and a forgotten rule fails closed.
 * Rules for anonymous also apply to signed-in users (signing in never loses access). Every
 * decision is on the routed repository (RepoKey), never on the name as a client wrote it.
 */
export class AccessPolicy {
  private readonly rules: Rule[];
  private readonly groupsOf = new Map<string, Set<string>>();

  constructor(rules: readonly AccessRuleConfig[], groups: Record<string, string[]> = {}, opts: PolicyOptions = { defaultRegistry: 'docker.io' }) {
    for (const [g, members] of Object.entries(groups)) {
      for (const m of members) this.groupsOf.set(m, (this.groupsOf.get(m) ?? new Set()).add(g));
    }
    this.rules = rules.map((r) => {
      const all = r.actions.includes('*');
      return {
        repositories: r.repositories.map((p) => matcher(p, opts.defaultRegistry)),
        users: new Set(r.users),
        groups: new Set(r.groups),
        anonymous: r.anonymous,
        actions: new Set(all ? REPO_ACTIONS : REPO_ACTIONS.filter((a) => r.actions.includes(a))),
        catalog: all || r.actions.includes('catalog'),
        // Named, never implied by '*': a rule for one's own repositories must not open the status
        // page, which names every image and client.
        observe: r.actions.includes('observe'),
      };
    });
    const pt = opts.pullThrough ?? 'rules';
    if (pt !== 'rules') {
      this.rules.push({
        repositories: [ANY_PULL_THROUGH], users: new Set(pt === 'authenticated' ? ['*'] : []), groups: new Set(),
        anonymous: pt === 'anonymous', actions: new Set(['pull']), catalog: false, observe: false,
      });
    }
  }

  private applies(r: Rule, s: Subject): boolean {
    if (r.anonymous) return true;
    if (s.user === undefined) return false;
    if (r.users.has('*') || r.users.has(s.user)) return true;
    for (const g of this.groupsOf.get(s.user) ?? []) if (r.groups.has(g)) return true;
    return false;
  }

  /** Every action the subject may do on the repository. */
  actions(s: Subject, key: RepoKey): Set<Action> {
    const out = new Set<Action>();
    for (const r of this.rules) {
      if (!this.applies(r, s) || !r.repositories.some((p) => p.matches(key, s.user))) continue;
      for (const a of r.actions) out.add(a);
    }
    return out;
  }

  can(s: Subject, key: RepoKey, action: Action): boolean {
    for (const r of this.rules) {
      if (r.actions.has(action) && this.applies(r, s) && r.repositories.some((p) => p.matches(key, s.user))) return true;
    }
    return false;
  }

  canCatalog(s: Subject): boolean { return this.rules.some((r) => r.catalog && this.applies(r, s)); }

  /** The status page, the SLO and alert views and /metrics (they name images and clients). */
  canObserve(s: Subject): boolean { return this.rules.some((r) => r.observe && this.applies(r, s)); }

  /**
   * Pull-through registries no rule lets anyone pull: with auth on, every pull through them is
   * refused, which is worth a warning at start (nodes would be locked out of the cache silently).
   */
  unreachable(registries: readonly string[]): string[] {
    const pullers = this.rules.filter((r) => r.actions.has('pull'));
    return registries.filter((reg) => !pullers.some((r) => r.repositories.some((p) => p.reaches(canonicalRegistry(reg)))));
  }
}

/** One entry of a token's `access` claim (Docker token spec). */
export interface AccessEntry { type: string; name: string; actions: string[] }

/**
 * Parses Docker token scopes (`repository:team/app:pull,push`, `registry:catalog:*`). The name
 * sits between the first and the last colon (a host:port in it keeps its colon); unknown types
 * are kept and later granted nothing.
 */
export function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',').map((a) => a.trim()).filter(Boolean);
  return name ? { type, name, actions } : undefined;
}

/** Maps a scope's repository name to the repository it routes to; undefined for an invalid name. */
type ScopeResolver = (name: string) => RepoKey | undefined;

/**
 * What to put in a token: the intersection of what was asked and what the policy allows. Names
 * stay as the client asked (a registry that trusts our tokens compares them as it wrote them),
 * but the decision is made on the routed repository; a name that is not a valid repository name
 * (`users/bob/../alice/x`) is granted nothing.
 */
export function grant(policy: AccessPolicy, s: Subject, requested: AccessEntry[], resolve: ScopeResolver): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const r of requested) {
    let actions: string[] = [];
    if (r.type === 'repository') {
      const key = resolve(r.name);
      const allowed = key ? policy.actions(s, key) : new Set<Action>();
      actions = r.actions.includes('*') ? [...allowed] : r.actions.filter((a): a is Action => allowed.has(a as Action));
    } else if (r.type === 'registry' && r.name === 'catalog' && policy.canCatalog(s)) {
      actions = ['*'];
    }
    out.push({ type: r.type, name: r.name, actions: [...new Set(actions)] });
  }
  return out;
}
