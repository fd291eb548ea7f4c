import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import { AccessPolicy, DEFAULT_RULES } from '../auth/access.js';
import { Htpasswd } from '../auth/htpasswd.js';
import { loadOrCreateSigningKey } from '../auth/signing-key.js';
import { TokenService } from '../auth/token-service.js';
import { RepoRouter } from '../oci/addressing.js';
import type { AuthParts } from '../gateway/guard.js';

/** Where the token-signing key and certificate live unless the config says otherwise. */
export function defaultKeyPaths(storage: string): { key: string; cert: string } {
  const dir = join(resolve(storage), 'auth');
  return { key: join(dir, 'token.key'), cert: join(dir, 'token.crt') };
}

/** The router of a configuration: hosted patterns and the default registry. */
export function buildRouter(config: Config): RepoRouter {
  return new RepoRouter(config.defaultRegistry, config.hosted.repositories);
}

/**
 * The auth state of a configuration (htpasswd, access rules, token service), built at start and
 * again by every reload; undefined without `auth`.
 */
export async function buildAuth(config: Config, log: Logger): Promise<AuthParts | undefined> {
  const a = config.auth;
  if (!a) return undefined;
  if (!a.htpasswd) throw new Error('auth needs an htpasswd file (auth.htpasswd or --htpasswd); create one with `regway user add`');
  const htpasswd = new Htpasswd(resolve(a.htpasswd));
  await htpasswd.load().catch((e: Error) => { throw new Error(`cannot read htpasswd file ${a.htpasswd}: ${e.message}`); });
  const paths = defaultKeyPaths(config.storage.path);
  const signingKey = await loadOrCreateSigningKey(resolve(a.token.key ?? paths.key), resolve(a.token.cert ?? paths.cert), log);
  const tokens = new TokenService(signingKey, { issuer: a.token.issuer, service: a.token.service, ttlMs: a.token.ttl, refreshTtlMs: a.token.refreshTtl });
  const policy = new AccessPolicy(a.access ?? DEFAULT_RULES, a.groups, { defaultRegistry: config.defaultRegistry, pullThrough: a.pullThrough });
  const locked = policy.unreachable(Object.keys(config.registries));
  if (locked.length > 0) {
    log.warn({ registries: locked }, 'auth is on and no access rule lets anyone pull these pull-through registries: every pull through them is refused. Set auth.pullThrough (anonymous or authenticated, or --pull-through) or add a rule such as { repositories: ["docker.io/**"], anonymous: true, actions: [pull] }');
  }
  return { htpasswd, tokens, policy, realm: a.token.realm };
}

