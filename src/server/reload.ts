import type { Config } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import { classifyChanges, withRunningValues } from '../config/changes.js';
import type { RegistryRoute } from '../cache/context.js';
import type { Guard, GuardState } from '../gateway/guard.js';
import { buildAuth, buildRouter } from './auth.js';
import type { HostedParts } from './hosted.js';
import type { TlsFiles } from './tls.js';
import { compilePolicies, type PolicySet } from '../policy/rules.js';

interface ReloadParts {
  config: Config;
  log: Logger;
  /** The per-request state (router, auth) the guard and the app read; replaced as a whole. */
  live: { state: GuardState };
  guard: Guard;
  hosted?: HostedParts;
  tls: TlsFiles;
  /** Builds and installs a registry table; returns the one it replaced. */
  install(config: Config): Map<string, RegistryRoute>;
  /** The pull policies the readers apply; replaced as a whole. */
  policies: { set: PolicySet };
}

/**
 * Hot reload: every setting a running gateway can apply is applied in one swap (registries,
 * routing, access rules, token settings and key, users, hosted settings, limits, the certificate,
 * the log level); settings that need a restart keep their running value and are listed every time
 * until the restart. Nothing is reported as applied that is not.
 */
export function reloader(p: ReloadParts): { current(): Config; apply(requested: Config): Promise<{ changed: string[]; needsRestart: string[] }> } {
  let current = p.config;
  const canApply = (requested: Config) => (path: string): boolean => {
    if (path === 'auth' || path === 'tls' || path === 'tls.http2') return false; // on/off installs routes and hooks
    if (path === 'tls.cert' || path === 'tls.key') return p.tls.serving;
    if (path === 'hosted.repositories') return p.hosted !== undefined || requested.hosted.repositories.length === 0;
    if (path.startsWith('limits.')) return p.guard.canApply(requested.limits, p.live.state.auth !== undefined);
    return true;
  };
  return {
    current: () => current,
    apply: async (requested) => {
      const { applied, needsRestart } = classifyChanges(current, requested, canApply(requested));
      // What runs from now on: the new config, except settings that wait for a restart.
      const next = withRunningValues(requested, current, needsRestart);
      // Build everything before swapping anything: a failure leaves the running state untouched.
      const auth = p.live.state.auth ? await buildAuth(next, p.log) : undefined;
      const router = buildRouter(next);
      // Key files are read again on every reload (a rotated key takes effect), so verdicts start afresh.
      const policies = compilePolicies(next.policies);
      const old = p.install(next);
      p.live.state = { router, auth };
      p.policies.set = policies;
      p.guard.configure(next.limits);
      p.hosted?.reconfigure(next);
      // A certificate replaced in place (same paths) is a change too: it is what renewals do.
      if (p.tls.reload(next) && !applied.includes('tls.cert')) applied.push('tls.certificate');
      p.log.level = next.log.level;
      current = next;
      // Requests under way hold their old route and finish on it; close its connections later.
      const timer = setTimeout(() => { for (const r of old.values()) void r.upstreams.close(); }, 120_000);
      timer.unref();
      p.log.info({ changed: applied, needsRestart }, 'configuration reloaded: new requests use the new settings');
      if (needsRestart.length) p.log.warn({ needsRestart }, 'these settings only take effect after a restart');
      return { changed: applied, needsRestart };
    },
  };
}
