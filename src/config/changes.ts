import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.js';

/**
 * What a reload changes, setting by setting, and which of those a running gateway can apply.
 * A reload reports exactly this: `applied` settings take effect for the next request,
 * `needsRestart` ones are logged as such and keep their running value. Nothing is reported as
 * applied that is not.
 */
interface ConfigChanges {
  applied: string[];
  needsRestart: string[];
}

/**
 * Paths (prefixes) that a running gateway cannot change: the socket, the storage and the fleet
 * and node mode (p2p) are opened once; the observability pipeline (audit sinks, alert rules, SLO targets) is built once;
 * server timeouts are socket options; `memoryManifests` sizes a cache built at start.
 */
const RESTART_ONLY = [
  'listen', 'storage', 'cluster', 'p2p', 'trustedProxies', 'watchConfig', 'audit', 'alerts', 'slo',
  'cache.memoryManifests', 'limits.headersTimeout', 'limits.requestTimeout', 'limits.idleTimeout', 'limits.keepAliveTimeout',
];

/** Maps reported as one setting (their keys are data: user-chosen names). */
const WHOLE = ['auth.groups'];

/** Changed settings as dotted paths: objects are walked, arrays and values compared whole. */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  const plain = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  // Registries are reported by name: a registry is applied as a whole.
  if (!plain(a) || !plain(b) || prefix.startsWith('registries.') || WHOLE.includes(prefix)) return [prefix || '(root)'];
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  return [...keys].sort().flatMap((k) => changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
}

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}.`);

/**
 * Classifies every changed setting. `canApply` is asked about paths a running gateway can apply
 * only in some states (turning auth, hosted repositories, TLS or limits on or off, which installs
 * routes and hooks at start): it answers whether this change can be applied now.
 */
export function classifyChanges(current: Config, next: Config, canApply: (path: string) => boolean = () => true): ConfigChanges {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  for (const path of changedPaths(current, next)) {
    if (RESTART_ONLY.some((p) => under(path, p)) || !canApply(path)) needsRestart.push(path);
    else applied.push(path);
  }
  return { applied, needsRestart };
}

/** `next` with the settings at `paths` put back to their running values from `running`. */
export function withRunningValues(next: Config, running: Config, paths: readonly string[]): Config {
  const out = structuredClone(next) as unknown as Record<string, unknown>;
  for (const path of paths) {
    if (path.startsWith('registries.')) continue; // registries always apply
    const keys = path.split('.');
    let dst = out;
    let src = running as unknown as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      if (typeof dst[k] !== 'object' || dst[k] === null) dst[k] = {};
      dst = dst[k] as Record<string, unknown>;
      src = (src?.[k] ?? {}) as Record<string, unknown>;
    }
    const last = keys[keys.length - 1]!;
    if (src[last] === undefined) delete dst[last]; else dst[last] = structuredClone(src[last]);
  }
  return out as unknown as Config;
}
