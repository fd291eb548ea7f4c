import type { Config, UpstreamConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from '../obs/logger.js';
import type { UpstreamObservers } from '../obs/upstream-observers.js';
import { CredentialChain, DockerConfigSource, AuthFileSource, HelperSource, StaticSource, type CredentialSource } from '../auth/credentials.js';
import { TokenCache, type SharedTokens } from '../auth/tokens.js';
import { UpstreamClient } from '../client/upstream-client.js';
import { Upstream } from '../upstream/upstream.js';
import { RegistryUpstreams } from '../upstream/registry-upstreams.js';
import type { RegistryRoute, RouteTable } from '../cache/context.js';
import { canonicalRegistry } from '../oci/reference.js';
import { Redirector, type ObjectUrls } from '../cache/redirect.js';
import type { RedirectConfig } from '../config/redirect-schema.js';

/** The registry table, replaced atomically as a whole (hot reload swaps it). */
export class SwappableRoutes implements RouteTable {
  private table = new Map<string, RegistryRoute>();
  get(registry: string): RegistryRoute | undefined { return this.table.get(registry); }
  swap(next: Map<string, RegistryRoute>): Map<string, RegistryRoute> { const old = this.table; this.table = next; return old; }
  all(): RegistryRoute[] { return [...this.table.values()]; }
}

/** Where an upstream's credentials come from: its own `auth`, else the configured files by host. */
function credentialSources(config: Config, u: UpstreamConfig): CredentialSource[] {
  if (u.auth && 'helper' in u.auth) return [new HelperSource(u.auth.helper)];
  if (u.auth) return [new StaticSource({ username: resolveSecret(u.auth.username), password: resolveSecret(u.auth.password) })];
  const sources: CredentialSource[] = [];
  if (config.credentials.dockerConfig) sources.push(new DockerConfigSource(config.credentials.dockerConfig));
  for (const f of config.credentials.authFiles) sources.push(new AuthFileSource(f));
  return sources;
}

/** Every configured registry's ordered upstreams (clients, health, credentials, token cache) and cache settings. */
/** A registry's redirects, its CDN key resolved here (the edge); built again on every reload. */
function buildRedirect(r: RedirectConfig, urls: ObjectUrls): Redirector {
  const cdn = r.cdn ? { baseUrl: r.cdn.baseUrl, signing: r.cdn.signing, key: r.cdn.key === undefined ? undefined : resolveSecret(r.cdn.key) } : undefined;
  return new Redirector({ ...r, cdn }, urls);
}

/** `urls`: the cache's blob store, when it can hand out object URLs (S3): needed by registries with `redirect`. */
export function buildRoutes(config: Config, log: Logger, sharedTokens?: SharedTokens, observers?: UpstreamObservers, urls?: ObjectUrls): Map<string, RegistryRoute> {
  const table = new Map<string, RegistryRoute>();
  for (const [name, reg] of Object.entries(config.registries)) {
    const registry = canonicalRegistry(name);
    const clients = reg.upstreams.map((u) => {
      if (u.tls.insecure) log.warn({ registry, upstream: u.url }, 'TLS verification is off for this upstream (tls.insecure): for labs only');
      const chain = new CredentialChain(credentialSources(config, u));
      const client = new UpstreamClient(u, {
        credentials: chain.empty ? undefined : (host) => chain.get(host),
        tokens: new TokenCache(undefined, sharedTokens),
      });
      return new Upstream(client, { failureThreshold: config.health.failureThreshold, openFor: config.health.openFor }, observers);
    });
    table.set(registry, {
      registry,
      upstreams: new RegistryUpstreams(registry, clients, log),
      tagTtl: reg.tagTtl ?? config.cache.tagTtl,
      maxStale: reg.maxStale ?? config.cache.maxStale,
      negativeTtl: reg.negativeTtl ?? config.cache.negativeTtl,
      redirect: reg.redirect && urls ? buildRedirect(reg.redirect, urls) : undefined,
    });
  }
  return table;
}
