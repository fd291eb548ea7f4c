import type { AccessRuleConfig } from '../config/hosted-schema.js';
import { repoPattern, type RepoPattern } from './patterns.js';

export type Action = 'pull' | 'push' | 'delete';
const REPO_ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** Who is asking: a user name, or nobody (anonymous). */
export interface Subject { user?: string }

interface Rule {
  repositories: RepoPattern[];
  users: Set<string>;
  groups: Set<string>;
  anonymous: boolean;
  actions: Set<Action>;
  catalog: boolean;
}

/** When auth is on and no rules are written: signed-in users may do everything, anonymous nothing. */
export const DEFAULT_RULES: AccessRuleConfig[] = [{ repositories: ['**'], users: ['*'], groups: [], anonymous: false, actions: ['*'] }];

/**
 * Access rules: repository patterns to actions, for users, groups and anonymous. Rules only
 * grant, they never deny, so their order does not matter and a forgotten rule fails closed.
 * Rules for anonymous also apply to signed-in users (signing in never loses access).
 */
export class AccessPolicy {
  private readonly rules: Rule[];
  private readonly groupsOf = new Map<string, Set<string>>();

  constructor(rules: readonly AccessRuleConfig[], groups: Record<string, string[]> = {}) {
    for (const [g, members] of Object.entries(groups)) {
      for (const m of members) this.groupsOf.set(m, (this.groupsOf.get(m) ?? new Set()).add(g));
    }
    this.rules = rules.map((r) => {
      const all = r.actions.includes('*');
      return {
        repositories: r.repositories.map(repoPattern),
        users: new Set(r.users),
        groups: new Set(r.groups),
        anonymous: r.anonymous,
        actions: new Set(all ? REPO_ACTIONS : REPO_ACTIONS.filter((a) => r.actions.includes(a))),
        catalog: all || r.actions.includes('catalog'),
      };
    });
  }

  private applies(r: Rule, s: Subject): boolean {
    if (r.anonymous) return true;
    if (s.user === undefined) return false;
    if (r.users.has('*') || r.users.has(s.user)) return true;
    for (const g of this.groupsOf.get(s.user) ?? []) if (r.groups.has(g)) return true;
    return false;
  }

  /** Every action the subject may do on the repository. */
  actions(s: Subject, name: string): Set<Action> {
    const out = new Set<Action>();
    for (const r of this.rules) {
      if (!this.applies(r, s) || !r.repositories.some((p) => p.matches(name, s.user))) continue;
      for (const a of r.actions) out.add(a);
    }
    return out;
  }

  can(s: Subject, name: string, action: Action): boolean { return this.actions(s, name).has(action); }

  canCatalog(s: Subject): boolean { return this.rules.some((r) => r.catalog && this.applies(r, s)); }
}

/** One entry of a token's `access` claim (Docker token spec). */
export interface AccessEntry { type: string; name: string; actions: string[] }

/**
 * Parses Docker token scopes (`repository:team/app:pull,push`, `registry:catalog:*`). The name
 * sits between the first and the last colon; unknown types are kept and later granted nothing.
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

/** What to put in a token: the intersection of what was asked and what the policy allows. */
export function grant(policy: AccessPolicy, s: Subject, requested: AccessEntry[]): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const r of requested) {
    let actions: string[] = [];
    if (r.type === 'repository') {
      const allowed = policy.actions(s, r.name);
      actions = r.actions.includes('*') ? [...allowed] : r.actions.filter((a): a is Action => allowed.has(a as Action));
    } else if (r.type === 'registry' && r.name === 'catalog' && policy.canCatalog(s)) {
      actions = ['*'];
    }
    out.push({ type: r.type, name: r.name, actions: [...new Set(actions)] });
  }
  return out;
}
