/**
 * Health of one upstream: a circuit breaker fed by passive observations (every request's outcome)
 * and active probes. While the circuit is open the upstream is skipped at no cost, which is what
 * makes "an upstream known to be down costs no timeout" true; after `openFor` one trial request
 * (half-open) decides whether it closes again. A 429 opens it for exactly the Retry-After period.
 */
export interface HealthOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit skips the upstream before a trial request. */
  openFor: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface HealthSnapshot {
  up: boolean;
  state: CircuitState;
  consecutiveFailures: number;
  lastError?: string;
  /** Exponentially weighted latency of successful requests (ms). */
  latencyMs?: number;
  /** Docker Hub's rate-limit headers, when the upstream sends them. */
  rateLimitRemaining?: number;
  rateLimitLimit?: number;
  openUntil?: number;
  /** Set while the upstream's Retry-After window lasts. */
  rateLimitedUntil?: number;
}

export class UpstreamHealth {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private lastError: string | undefined;
  private latency: number | undefined;
  /**
   * Until when the upstream asked us to stay away (429 Retry-After). Apart from the circuit: a
   * probe of /v2/ answers 200 on rate-limited registries, and must not shorten the window.
   */
  private rateLimitedUntil = 0;

  constructor(private readonly opts: HealthOptions, private readonly now: () => number = Date.now) {}

  /** Whether a request may go to this upstream now. Claims the single half-open trial if due. */
  available(): boolean {
    if (this.rateLimited()) return false;
    if (this.state === 'closed') return true;
    if (this.now() < this.openUntil) return false;
    if (this.trialInFlight) return false;
    this.state = 'half-open';
    this.trialInFlight = true;
    return true;
  }

  /** Whether the upstream is believed usable (for ordering and status), without claiming a trial. */
  isUp(): boolean {
    return !this.rateLimited() && (this.state === 'closed' || this.now() >= this.openUntil);
  }

  /** Milliseconds left of the upstream's Retry-After window; 0 when not rate-limited. */
  retryAfterMs(): number { return Math.max(0, this.rateLimitedUntil - this.now()); }

  rateLimited(): boolean { return this.rateLimitedUntil > this.now(); }

  success(latencyMs?: number): void {
    this.state = 'closed';
    this.failures = 0;
    this.trialInFlight = false;
    this.lastError = undefined;
    if (latencyMs !== undefined) this.latency = this.latency === undefined ? latencyMs : this.latency * 0.8 + latencyMs * 0.2;
  }

  failure(reason: string): void {
    this.failures++;
    this.lastError = reason;
    this.trialInFlight = false;
    if (this.state === 'half-open' || this.failures >= this.opts.failureThreshold) this.open(this.opts.openFor);
  }

  /** 429: skip this upstream for the period it asked for (Retry-After), at least one second. */
  limited(retryAfterMs: number | undefined): void {
    this.lastError = 'HTTP 429';
    this.trialInFlight = false;
    this.rateLimitedUntil = Math.max(this.rateLimitedUntil, this.now() + Math.max(1000, retryAfterMs ?? this.opts.openFor));
  }

  private open(ms: number): void {
    this.state = 'open';
    this.openUntil = this.now() + ms;
  }

  snapshot(): HealthSnapshot {
    return {
      up: this.isUp(),
      state: this.state === 'open' && this.now() >= this.openUntil ? 'half-open' : this.state,
      consecutiveFailures: this.failures,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.latency !== undefined ? { latencyMs: Math.round(this.latency) } : {}),
      ...(this.state !== 'closed' ? { openUntil: this.openUntil } : {}),
      ...(this.rateLimited() ? { rateLimitedUntil: this.rateLimitedUntil } : {}),
    };
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}
