import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedTokens } from '../auth/tokens.js';

/**
 * Upstream bearer tokens shared by the fleet through Redis, under a hash of realm/service/scope,
 * expiring with the token. Redis must sit on a trusted network: these are credentials (short-lived).
 */
export function redisTokens(redis: Redis): SharedTokens {
  const key = (k: string) => `regway:token:${createHash('sha256').update(k).digest('hex')}`;
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
  };
}
