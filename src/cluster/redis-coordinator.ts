import { Redis } from 'ioredis';
import type { Logger } from '../obs/logger.js';
import type { Claim, FetchCoordinator, PeerInfo } from './coordinator.js';

// Compare-and-act scripts: only the lease holder may renew or release it (the shared index's leader lease too).
export const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
export const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const TAKEOVER = `local v = redis.call('get', KEYS[1]) if (not v) or v == ARGV[2] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1 else return 0 end`;

/**
 * Fetch leases in Redis: `SET <prefix>fetch:<digest> <owner> NX PX <ttl>`, renewed at a third of
 * the TTL while the owner downloads. Every Redis error degrades to "solo" at once (no queueing,
 * short timeouts): a pull must never fail or wait because coordination is down.
 */
export class RedisCoordinator implements FetchCoordinator {
  /** The connection, shared with the other fleet-wide state (tag metadata). */
  readonly redis: Redis;
  private up = true;

  /** `prefix`: the fleet's key namespace (`regway:<namespace>:`), so two fleets on one Redis never meet. */
  constructor(url: string, readonly self: PeerInfo, private readonly leaseTtl: number, private readonly log: Logger, readonly prefix = 'regway:', auth: { username?: string; password?: string } = {}) {
    this.redis = new Redis(url, {
      ...(auth.password ? { password: auth.password } : {}),
      ...(auth.username ? { username: auth.username } : {}),
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: 1000,
      retryStrategy: (n) => Math.min(n * 200, 2000),
    });
    this.redis.on('error', () => this.mark(false));
    this.redis.on('ready', () => this.mark(true));
  }

  private mark(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (up) this.log.info('Redis reachable again: fleet-wide fetch coordination restored');
    else this.log.warn('Redis unreachable: serving alone (degraded) until it is back');
  }

  healthy(): boolean { return this.up && this.redis.status === 'ready'; }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    if (!this.healthy()) return true;
    try {
      return (await this.redis.set(`${this.prefix}once:${key}`, this.self.instance, 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
    } catch {
      this.mark(false);
      return true;
    }
  }

  private key(digest: string): string { return `${this.prefix}fetch:${digest}`; }
  private value(): string { return JSON.stringify(this.self); }

  async claim(digest: string): Promise<Claim> {
    if (!this.healthy()) return { kind: 'solo' };
    try {
      const ok = await this.redis.set(this.key(digest), this.value(), 'PX', this.leaseTtl, 'NX');
      if (ok === 'OK') return this.owner(digest);
      const holder = await this.redis.get(this.key(digest));
      if (!holder) return this.claim(digest); // lease ended between the two calls
      const peer = JSON.parse(holder) as PeerInfo;
      if (peer.instance === this.self.instance) return this.owner(digest);
      return { kind: 'peer', peer };
    } catch (e) {
      this.mark(false);
      this.log.warn({ digest, err: (e as Error).message }, 'fetch coordination failed; fetching alone');
      return { kind: 'solo' };
    }
  }

  async takeOver(digest: string, deadPeer: PeerInfo): Promise<Claim> {
    if (!this.healthy()) return { kind: 'solo' };
    try {
      const ok = await this.redis.eval(TAKEOVER, 1, this.key(digest), this.value(), JSON.stringify(deadPeer), String(this.leaseTtl));
      if (ok === 1) return this.owner(digest);
      const holder = await this.redis.get(this.key(digest));
      return holder ? { kind: 'peer', peer: JSON.parse(holder) as PeerInfo } : this.claim(digest);
    } catch {
      this.mark(false);
      return { kind: 'solo' };
    }
  }

  private owner(digest: string): Claim {
    const key = this.key(digest);
    const value = this.value();
    const timer = setInterval(() => {
      this.redis.eval(RENEW, 1, key, value, String(this.leaseTtl)).catch(() => this.mark(false));
    }, Math.max(200, Math.floor(this.leaseTtl / 3)));
    timer.unref();
    return {
      kind: 'owner',
      release: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, key, value).catch(() => {});
      },
    };
  }

  async close(): Promise<void> { this.redis.disconnect(); }
}
