import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LoginAttempts, LoginBackoff } from '../limits/token-bucket.js';

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
// ARGV: threshold, delayMs, maxDelayMs. Same rule as LoginBackoff.failed, on Redis' clock.
const FAILED = `${NOW}
local threshold, delay, maxDelay = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local c = redis.call('HINCRBY', KEYS[1], 'count', 1)
if c >= threshold then redis.call('HSET', KEYS[1], 'until', tostring(math.floor(now + math.min(maxDelay, delay * 2 ^ (c - threshold))))) end
redis.call('PEXPIRE', KEYS[1], maxDelay * 2)
return c`;
const WAIT = `${NOW}
local u = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
return math.max(0, u - now)`;

/**
 * The failed-login backoff shared by the fleet: a password guesser spreading attempts over every
 * instance meets the same delays as against one. A login already costs a bcrypt check, so one
 * Redis round trip per attempt is cheap here (unlike rate limits, which never wait for Redis).
 * The local backoff always counts too and decides whenever Redis is unreachable or fails: the
 * instance then protects itself alone, and logins never fail because coordination is down.
 */
export class RedisLoginAttempts implements LoginAttempts {
  constructor(private readonly redis: Redis, private readonly local: LoginBackoff, private readonly prefix = 'regway:login:') {}

  async wait(ip: string, user: string): Promise<number> {
    const mine = this.local.wait(ip, user);
    const ms = await this.call(WAIT, ip, user, []);
    return Math.max(mine, ms ? Math.ceil(ms / 1000) : 0);
  }

  async failed(ip: string, user: string): Promise<void> {
    this.local.failed(ip, user);
    await this.call(FAILED, ip, user, [this.local.threshold, this.local.delayMs, this.local.maxDelayMs]);
  }

  async succeeded(ip: string, user: string): Promise<void> {
    this.local.succeeded(ip, user);
    if (this.redis.status === 'ready') await this.redis.del(this.key(ip, user)).catch(() => {});
  }

  // A hash: user names and addresses never end up in Redis key names (they can be anything).
  private key(ip: string, user: string): string { return this.prefix + createHash('sha256').update(`${ip}\0${user}`).digest('hex'); }

  private async call(script: string, ip: string, user: string, args: number[]): Promise<number> {
    if (this.redis.status !== 'ready') return 0;
    try {
      return Number(await this.redis.eval(script, 1, this.key(ip, user), ...args.map(String)));
    } catch {
      return 0;
    }
  }
}
