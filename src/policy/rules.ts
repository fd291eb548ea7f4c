import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PolicyConfig } from '../config/policy-schema.js';
import { repoPattern, type RepoPattern } from '../oci/patterns.js';
import { accessName, type RepoKey } from '../oci/repo.js';
import type { VulnLimits } from './vuln.js';

/** A policy ready to apply: patterns compiled, keys parsed. */
export interface Policy {
  name: string;
  mode: 'enforce' | 'audit';
  require: 'signed' | 'none';
  keys: KeyObject[];
  allowDigests: ReadonlySet<string>;
  patterns: RepoPattern[];
  /** A signed vulnerability report within these limits is required too. */
  vulnerabilities?: VulnLimits & { keys: KeyObject[] };
}

/** Every policy of one configuration; `generation` changes with each reload, so verdicts of an older one are never reused. */
export interface PolicySet {
  generation: number;
  policies: Policy[];
}

let generations = 0;

/** Compiles the config's policies; throws (naming the policy) on a key that cannot be read or parsed, before anything is swapped. */
export function compilePolicies(configs: readonly PolicyConfig[]): PolicySet {
  return { generation: ++generations, policies: configs.map(compile) };
}

function compile(c: PolicyConfig): Policy {
  return {
    name: c.name,
    mode: c.mode,
    require: c.require,
    keys: c.keys.map((k, i) => parseKey(c.name, i, k)),
    allowDigests: new Set(c.allowDigests),
    patterns: c.repositories.map(repoPattern),
    vulnerabilities: c.vulnerabilities && { ...c.vulnerabilities, keys: c.vulnerabilities.keys.map((k, i) => parseKey(c.name, i, k, 'vulnerabilities.keys')) },
  };
}

function parseKey(policy: string, i: number, k: PolicyConfig['keys'][number], field = 'keys'): KeyObject {
  const where = typeof k === 'string' ? `${field}[${i}]` : k.file;
  try {
    const key = createPublicKey(typeof k === 'string' ? k : readFileSync(k.file, 'utf8'));
    if (!['ec', 'ed25519', 'rsa'].includes(key.asymmetricKeyType ?? '')) throw new Error(`a ${key.asymmetricKeyType} key cannot verify cosign signatures`);
    return key;
  } catch (e) {
    throw new Error(`policy ${policy}: ${where}: not a usable public key (${(e as Error).message})`);
  }
}

/** The policy of a repository: the first whose patterns match its access name (registry/name; hosted: the name). */
export function policyFor(set: PolicySet, repo: RepoKey): Policy | undefined {
  if (set.policies.length === 0) return undefined;
  const name = accessName(repo);
  return set.policies.find((p) => p.patterns.some((pat) => pat.matches(name)));
}
