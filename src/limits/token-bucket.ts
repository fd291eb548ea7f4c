/**
 * Token buckets keyed by client (IP or user): `rate` tokens a second up to `burst`. A request
 * takes one token; with none left, the caller answers 429 with the seconds until the next one
 * (Retry-After). Buckets that have refilled completely carry no information and are dropped, so
 * memory stays bounded by the clients active in the last burst/rate seconds.
 */
/** What the guard asks of a rate limiter: one process's buckets, or the fleet's (cluster/counter-sync.ts). */
export interface RateLimiter {
  readonly enabled: boolean;
  /** Takes a token; returns 0 when allowed, else the seconds to wait (at least 1). */
  take(key: string): number;
}

export class TokenBuckets implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(private readonly rate: number, private readonly burst: number, private readonly now: () => number = Date.now) {}

  get enabled(): boolean { return this.rate > 0; }

  /** Takes a token; returns 0 when allowed, else the seconds to wait (at least 1). */
  take(key: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    const cap = Math.max(1, this.burst);
    this.sweep(t, cap);
    const b = this.buckets.get(key) ?? { tokens: cap, at: t };
    b.tokens = Math.min(cap, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) { b.tokens -= 1; return 0; }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  /** Replaces a key's tokens with what the fleet has left (may be negative: the fleet overdrew). */
  set(key: string, tokens: number): void {
    this.buckets.set(key, { tokens: Math.min(Math.max(1, this.burst), tokens), at: this.now() });
  }

  private sweep(t: number, cap: number): void {
    if (t - this.lastSweep < 10_000) return;
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.rate >= cap) this.buckets.delete(k);
  }
}

/** Requests in progress per key, for a per-client concurrency cap. */
export class ConcurrencyLimit {
  private readonly active = new Map<string, number>();
  constructor(private readonly max: number) {}

  get enabled(): boolean { return this.max > 0; }

  /** A release function, or undefined when the key already has `max` requests running. */
  acquire(key: string): (() => void) | undefined {
    if (!this.enabled) return () => {};
    const n = this.active.get(key) ?? 0;
    if (n >= this.max) return undefined;
    this.active.set(key, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.active.get(key) ?? 1) - 1;
      if (left <= 0) this.active.delete(key); else this.active.set(key, left);
    };
  }
}

/** Failed-login bookkeeping: this process's (LoginBackoff) or the fleet's (cluster/redis-backoff.ts). */
export interface LoginAttempts {
  /** Seconds the client must still wait before another attempt (0 = may try now). */
  wait(ip: string, user: string): number | Promise<number>;
  failed(ip: string, user: string): void | Promise<void>;
  succeeded(ip: string, user: string): void | Promise<void>;
}

/**
 * Slows password guessing: after `threshold` failed logins for one (IP, user), each further
 * attempt must wait a delay that doubles per failure up to `maxDelayMs`; attempts inside the
 * wait are refused without checking the password (429 + Retry-After), so guessing costs time and
 * not our CPU (bcrypt). A success clears the record. Keyed by IP and user together, so an
 * attacker cannot lock a user out from elsewhere, and one user's typos do not block an office.
 */
export class LoginBackoff implements LoginAttempts {
  private readonly failures = new Map<string, { count: number; until: number; at: number }>();

  constructor(readonly threshold: number, readonly delayMs: number, readonly maxDelayMs: number, private readonly now: () => number = Date.now) {}

  /** Seconds the client must still wait before another attempt (0 = may try now). */
  wait(ip: string, user: string): number {
    const f = this.failures.get(`${ip}\0${user}`);
    const left = f ? f.until - this.now() : 0;
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  failed(ip: string, user: string): void {
    const key = `${ip}\0${user}`;
    const t = this.now();
    if (this.failures.size > 100_000) this.prune(t);
    const f = this.failures.get(key) ?? { count: 0, until: 0, at: t };
    f.count++;
    f.at = t;
    if (f.count >= this.threshold) f.until = t + Math.min(this.maxDelayMs, this.delayMs * 2 ** (f.count - this.threshold));
    this.failures.set(key, f);
  }

  succeeded(ip: string, user: string): void { this.failures.delete(`${ip}\0${user}`); }

  private prune(t: number): void {
    for (const [k, f] of this.failures) if (t - f.at > this.maxDelayMs * 2) this.failures.delete(k);
  }
}
