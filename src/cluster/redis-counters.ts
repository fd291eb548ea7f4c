import type { Redis } from 'ioredis';
import type { BucketDelta, CounterStore, WindowDelta } from './counters.js';

// Both scripts read the clock inside Redis (TIME), so instances whose clocks disagree still share
// one timeline. Results go back as strings: Redis would truncate Lua numbers to integers.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// ARGV per key: rate, burst, used. Same steps as drawTokens() in counters.ts.
const TAKE = `${NOW}
local out = {}
for i, key in ipairs(KEYS) do
  local rate, cap, used = tonumber(ARGV[i*3-2]), math.max(1, tonumber(ARGV[i*3-1])), tonumber(ARGV[i*3])
  local v = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = cap
  if v[1] then tokens = math.min(cap, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) / 1000 * rate) end
  tokens = math.max(-cap, tokens - used)
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((cap - tokens) / math.max(rate, 0.001) * 1000) + 1000)
  out[i] = tostring(tokens)
end
return out`;

// ARGV per key: windowMs, slots, added. A hash per key, one field per time slot.
const WINDOW = `${NOW}
local out = {}
for i, key in ipairs(KEYS) do
  local windowMs, slots, added = tonumber(ARGV[i*3-2]), tonumber(ARGV[i*3-1]), tonumber(ARGV[i*3])
  local slotMs = math.max(1, math.ceil(windowMs / slots))
  local slot = math.floor(now / slotMs)
  if added > 0 then redis.call('HINCRBYFLOAT', key, slot, added) end
  local all = redis.call('HGETALL', key)
  local total = 0
  for j = 1, #all, 2 do
    if tonumber(all[j]) <= slot - slots then redis.call('HDEL', key, all[j]) else total = total + tonumber(all[j+1]) end
  end
  if #all > 0 then redis.call('PEXPIRE', key, slotMs * (slots + 1)) end
  out[i] = tostring(total)
end
return out`;

/**
 * Shared counters in Redis, one script call per batch. Keys are prefixed here so the callers' keys
 * (client addresses, user names) can be anything. A failing call rejects: the caller drops that
 * batch and keeps counting alone until Redis answers again.
 */
export class RedisCounterStore implements CounterStore {
  constructor(private readonly redis: Redis, private readonly prefix = 'regway:count:') {}

  healthy(): boolean { return this.redis.status === 'ready'; }

  takeTokens(batch: readonly BucketDelta[]): Promise<number[]> {
    return this.run(TAKE, batch.map((d) => d.key), batch.flatMap((d) => [d.rate, d.burst, d.used]));
  }

  addToWindows(batch: readonly WindowDelta[]): Promise<number[]> {
    return this.run(WINDOW, batch.map((d) => d.key), batch.flatMap((d) => [d.windowMs, d.slots, d.added]));
  }

  private async run(script: string, keys: string[], args: number[]): Promise<number[]> {
    if (!keys.length) return [];
    const out = (await this.redis.eval(script, keys.length, ...keys.map((k) => this.prefix + k), ...args.map(String))) as string[];
    return out.map(Number);
  }
}
