import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedTokens } from '../auth/tokens.js';

// Deletes the key only while it still holds the refused token (another instance may have renewed it).
const DELETE_IF = `if redis.call('get', KEYS[1]) and string.find(redis.call('get', KEYS[1]), ARGV[1], 1, true) then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Upstream bearer tokens shared by the fleet through Redis, under a hash of realm, service, scope
 * and the identity of the credentials (the caller's key carries it), expiring with the token.
 * Redis must sit on a trusted network: these are credentials (short-lived). `prefix` is the
 * fleet's key namespace.
 */
export function redisTokens(redis: Redis, prefix = 'regway:'): SharedTokens {
  const key = (k: string) => `${prefix}token:${createHash('sha256').update(k).digest('hex')}`;
  return {
    async get(k) {
      if (redis.status !== 'ready') return undefined;
      const v = await redis.get(key(k));
      return v ? (JSON.parse(v) as { token: string; expiresAt: number }) : undefined;
    },
    async set(k, token, expiresAt) {
      const ttl = expiresAt - Date.now();
      if (redis.status !== 'ready' || ttl <= 0) return;
      await redis.set(key(k), JSON.stringify({ token, expiresAt }), 'PX', ttl);
    },
    async delete(k, token) {
      if (redis.status !== 'ready') return;
      await redis.eval(DELETE_IF, 1, key(k), JSON.stringify(token));
    },
  };
}
