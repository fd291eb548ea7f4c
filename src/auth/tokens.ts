/**
 * A token store shared by a fleet (Redis), so one instance's token serves all of them until it
 * expires. Failures must resolve to "nothing there": tokens are only an optimisation.
 */
export interface SharedTokens {
  get(key: string): Promise<{ token: string; expiresAt: number } | undefined>;
  set(key: string, token: string, expiresAt: number): Promise<void>;
  /** Drops the key if it still holds this token (an upstream refused it). */
  delete(key: string, token: string): Promise<void>;
}

/** Bearer tokens cached per realm, service and scope, honouring expires_in (minus a safety margin). */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number = Date.now, private readonly shared?: SharedTokens) {}

  static key(realm: string, service: string, scope: string): string {
    return `${realm}\u0000${service}\u0000${scope}`;
  }

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= this.now()) { this.tokens.delete(key); return undefined; }
    return t.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    // Spec: expires_in defaults to 60 s. Refresh 10% (at least 5 s) early so a token never expires mid-request.
    const ttl = Math.max(expiresInSeconds > 0 ? expiresInSeconds : 60, 10) * 1000;
    this.tokens.set(key, { token, expiresAt: this.now() + ttl - Math.max(5000, ttl * 0.1) });
  }

  /**
   * One token request per key at a time: concurrent misses share it. `rejected`: a token the
   * upstream just refused, never to be returned again (from here or from the fleet's store).
   */
  async getOrFetch(key: string, fetch: () => Promise<{ token: string; expiresIn: number }>, rejected?: string): Promise<string> {
    const hit = this.get(key);
    if (hit && hit !== rejected) return hit;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fromShared(key, rejected).then(async (hit) => {
        if (hit) return hit;
        const { token, expiresIn } = await fetch();
        this.set(key, token, expiresIn);
        const e = this.tokens.get(key);
        if (e && this.shared) await this.shared.set(key, token, e.expiresAt).catch(() => {});
        return token;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fromShared(key: string, rejected: string | undefined): Promise<string | undefined> {
    const e = this.shared ? await this.shared.get(key).catch(() => undefined) : undefined;
    if (!e || e.expiresAt <= this.now() || e.token === rejected) return undefined;
    this.tokens.set(key, e);
    return e.token;
  }

  /** Forgets a token an upstream refused, here and in the fleet's store (only if it still holds that one). */
  async invalidate(key: string, token?: string): Promise<void> {
    const mine = this.tokens.get(key);
    if (!token || mine?.token === token) this.tokens.delete(key);
    if (token && this.shared) await this.shared.delete(key, token).catch(() => {});
  }
}
