import type { AlertsConfig } from '../../config/observability.js';
import type { ObservedEvent } from '../pulls.js';
import { SlidingCounter, type WindowCounter } from '../window.js';

/** Makes the rules' counters: this process's by default, the fleet's when instances share Redis. */
export type WindowFactory = (name: string, windowMs: number, slots: number, maxKeys: number) => WindowCounter;
const localWindows: WindowFactory = (_name, windowMs, slots, maxKeys) => new SlidingCounter(windowMs, slots, maxKeys);

type AlertRule = 'pulls-per-client' | 'failed-logins' | 'upstream-errors' | 'cache-hit-drop';

export interface Alert {
  id: string;
  time: number;
  rule: AlertRule;
  /** What the rule is about: a client address, an upstream URL, or "cache". */
  key: string;
  clientIp?: string;
  upstream?: string;
  severity: 'warning' | 'critical';
  summary: string;
  value: number;
  threshold: number;
  windowMs: number;
}

/**
 * A failed login: a token request refused, or a request refused as UNAUTHORIZED that named a user
 * (so credentials were offered and were wrong, not merely missing: clients always try anonymously
 * first, and those 401s are the protocol working, not an attack).
 */
export function isFailedLogin(e: ObservedEvent): boolean {
  if (e.operation === 'token') return e.status === 401 || e.status === 403;
  return e.status === 401 && !!e.user;
}

const CACHEABLE = new Set(['manifest', 'blob']);
/** Served from our disk without a body download: hits, revalidations (a HEAD upstream), stale answers. */
const isHit = (c: ObservedEvent['cache']): boolean => c === 'hit' || c === 'revalidated' || c === 'stale';

/**
 * Anomaly rules over sliding windows. Each rule and key fires at most once per cooldown; a fired
 * alert goes to `notify` (audit log, webhooks, metrics) and into the recent list for GET /-/alerts.
 */
export class AlertEngine {
  private readonly pulls: WindowCounter;
  private readonly logins: WindowCounter;
  private readonly upTotal: WindowCounter;
  private readonly upErrors: WindowCounter;
  private readonly recentCache: WindowCounter;
  private readonly baseCache: WindowCounter;
  private readonly lastFired = new Map<string, number>();
  private readonly recentAlerts: Alert[] = [];
  private seq = 0;
  fired = 0;

  constructor(private readonly cfg: AlertsConfig, private readonly notify: (a: Alert) => void, private readonly now: () => number = Date.now,
    windows: WindowFactory = localWindows) {
    const r = cfg.rules;
    this.pulls = windows('pulls-per-client', r.pullsPerClient.window, 60, 100_000);
    this.logins = windows('failed-logins', r.failedLogins.window, 60, 100_000);
    this.upTotal = windows('upstream-requests', r.upstreamErrors.window, 30, 10_000);
    this.upErrors = windows('upstream-errors', r.upstreamErrors.window, 30, 10_000);
    this.recentCache = windows('cache-recent', r.cacheHitDrop.window, 30, 4);
    this.baseCache = windows('cache-baseline', r.cacheHitDrop.baseline, 60, 4);
  }

  record(e: ObservedEvent): void {
    const r = this.cfg.rules;
    const t = e.time;
    if (e.pull && r.pullsPerClient.enabled) {
      const n = this.pulls.add(e.clientIp, t);
      if (n > r.pullsPerClient.threshold) {
        this.fire('pulls-per-client', e.clientIp, n, r.pullsPerClient.threshold, r.pullsPerClient.window, 'warning',
          `client ${e.clientIp} pulled ${n} images within ${fmt(r.pullsPerClient.window)} (threshold ${r.pullsPerClient.threshold})`, { clientIp: e.clientIp });
      }
    }
    if (r.failedLogins.enabled && isFailedLogin(e)) {
      const n = this.logins.add(e.clientIp, t);
      if (n >= r.failedLogins.threshold) {
        this.fire('failed-logins', e.clientIp, n, r.failedLogins.threshold, r.failedLogins.window, 'critical',
          `${n} failed logins from ${e.clientIp} within ${fmt(r.failedLogins.window)}${e.user ? ` (last user: ${e.user})` : ''}`, { clientIp: e.clientIp });
      }
    }
    if (r.cacheHitDrop.enabled && e.cache && CACHEABLE.has(e.operation)) this.cacheHit(isHit(e.cache), t);
  }

  /** One upstream request finished: `ok` false for connection errors, timeouts, 5xx and 429. */
  recordUpstream(upstream: string, ok: boolean, t = this.now()): void {
    const r = this.cfg.rules.upstreamErrors;
    if (!r.enabled) return;
    const total = this.upTotal.add(upstream, t);
    const errors = ok ? this.upErrors.total(upstream, t) : this.upErrors.add(upstream, t);
    if (total >= r.minRequests && errors / total >= r.ratio) {
      this.fire('upstream-errors', upstream, round(errors / total), r.ratio, r.window, 'critical',
        `upstream ${upstream}: ${errors} of ${total} requests failed within ${fmt(r.window)} (${pct(errors / total)}, threshold ${pct(r.ratio)})`, { upstream });
    }
  }

  private cacheHit(hit: boolean, t: number): void {
    const r = this.cfg.rules.cacheHitDrop;
    const rTotal = this.recentCache.add('total', t);
    const rHits = hit ? this.recentCache.add('hit', t) : this.recentCache.total('hit', t);
    const bTotal = this.baseCache.add('total', t);
    const bHits = hit ? this.baseCache.add('hit', t) : this.baseCache.total('hit', t);
    // Compare with the baseline *before* the recent window, so the drop does not dilute its own reference.
    const oTotal = bTotal - rTotal;
    const oHits = bHits - rHits;
    if (rTotal < r.minRequests || oTotal < r.minRequests) return;
    const recent = rHits / rTotal;
    const before = oHits / oTotal;
    if (before - recent >= r.drop) {
      this.fire('cache-hit-drop', 'cache', round(recent), round(before - r.drop), r.window, 'warning',
        `cache hit ratio fell to ${pct(recent)} over the last ${fmt(r.window)} from ${pct(before)} before`);
    }
  }

  private fire(rule: AlertRule, key: string, value: number, threshold: number, windowMs: number, severity: Alert['severity'], summary: string, extra: Partial<Alert> = {}): void {
    const now = this.now();
    const k = `${rule}\u0000${key}`;
    const last = this.lastFired.get(k);
    if (last !== undefined && now - last < this.cfg.cooldown) return;
    this.lastFired.delete(k);
    if (this.lastFired.size >= 100_000) this.lastFired.delete(this.lastFired.keys().next().value as string);
    this.lastFired.set(k, now);
    const a: Alert = { id: `${now.toString(36)}-${(++this.seq).toString(36)}`, time: now, rule, key, severity, summary, value, threshold, windowMs, ...extra };
    this.recentAlerts.push(a);
    if (this.recentAlerts.length > this.cfg.keep) this.recentAlerts.shift();
    this.fired++;
    this.notify(a);
  }

  /** Recent alerts, newest first. */
  recent(limit = this.cfg.keep): Alert[] { return this.recentAlerts.slice(-limit).reverse(); }
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
function fmt(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
