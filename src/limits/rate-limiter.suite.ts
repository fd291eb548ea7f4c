/**
 * The conformance suite every RateLimiter must pass: this process's TokenBuckets
 * (src/limits/rate-limiter.test.ts) and the fleet's SharedBuckets, synced through a
 * MemoryCounterStore (src/cluster/shared-counters.test.ts) or a real Redis
 * (test/cluster/redis-shared-counters.test.ts).
 *
 * The contract, as the guard (gateway/guard.ts) uses it: `take` answers at once, 0 to admit,
 * else the whole seconds to put in Retry-After (at least 1);
 *  - a limiter with rate 0 is disabled and admits everything;
 *  - a key no one used admits a burst (at least one request), then refuses;
 *  - keys are independent;
 *  - tokens come back at the rate, never more than a burst of them, and the wait it answered is
 *    honest: once it has passed, the key is admitted again;
 *  - none of this changes when the implementation does its background work (a fleet's sync).
 * Time: `time.advance` moves an injected clock; an implementation on a real clock (Redis keeps
 * its own) is waited for with waitFor, bounded by the wait the limiter answered. The background
 * work runs while time passes (the suite settles before and after moving the clock): a fleet
 * charges a token to the shared bucket when it syncs, so an idle with no sync would shift it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RateLimiter } from './token-bucket.js';
import { waitFor } from '../testing/wait.js';

export interface LimiterFixture {
  /** A limiter nobody else uses (a fresh scope on a shared backend). */
  limiter(rate: number, burst: number): RateLimiter;
  /** The limiter's clock: injected (the suite moves it) or real. */
  time: { advance(ms: number): void } | 'real';
  /** Whatever the implementation does between requests (a fleet's sync with its store); nothing for a local one. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

export function rateLimiterSuite(name: string, make: () => Promise<LimiterFixture>): void {
  describe(`rate limiter conformance: ${name}`, () => {
    let f: LimiterFixture;
    before(async () => {
      f = await make();
    });
    after(async () => {
      await f.cleanup();
    });
    const key = () => `10.0.${randomUUID()}`;
    /** Takes until refused (at most `max`), syncing between takes as requests and syncs would interleave. */
    const admitted = async (l: RateLimiter, k: string, max: number) => {
      let n = 0;
      while (n < max && l.take(k) === 0) {
        n++;
        if (n % 2 === 0) await f.settle();
      }
      return n;
    };
    /** Moves the injected clock with the background work running, as a sync every interval would. */
    const advance = async (ms: number) => {
      if (f.time === 'real') throw new Error('advance needs an injected clock');
      await f.settle();
      f.time.advance(ms);
      await f.settle();
    };
    /** Admitted once `ms` have passed: the injected clock jumps there; on a real clock, within `ms` and some slack. */
    const admittedAfter = async (l: RateLimiter, k: string, ms: number, what: string) => {
      if (f.time === 'real') {
        await waitFor(async () => {
          await f.settle();
          return l.take(k) === 0;
        }, what, ms + 2_000);
        return;
      }
      await advance(ms);
      assert.equal(l.take(k), 0, what);
    };

    it('a limiter with rate 0 is disabled and admits everything', async () => {
      const l = f.limiter(0, 0);
      assert.equal(l.enabled, false);
      const k = key();
      for (let i = 0; i < 500; i++) assert.equal(l.take(k), 0);
      await f.settle();
      assert.equal(l.take(k), 0);
    });

    it('a fresh key admits a burst, then refuses with whole seconds to wait', async () => {
      const l = f.limiter(1, 5);
      assert.equal(l.enabled, true);
      const k = key();
      assert.equal(await admitted(l, k, 50), 5);
      await f.settle();
      const wait = l.take(k);
      assert.ok(Number.isInteger(wait) && wait >= 1, `Retry-After ${wait}`);
      assert.ok(wait <= 2, `one token at 1/s is at most a second or two away, not ${wait} s`);
    });

    it('a burst below one still admits one request', async () => {
      const l = f.limiter(0.5, 0);
      const k = key();
      assert.equal(await admitted(l, k, 10), 1);
      assert.ok(l.take(k) >= 1);
    });

    it('keys are independent', async () => {
      const l = f.limiter(1, 3);
      const [a, b] = [key(), key()];
      assert.equal(await admitted(l, a, 10), 3);
      await f.settle();
      assert.ok(l.take(a) >= 1);
      assert.equal(await admitted(l, b, 10), 3, 'b has its own burst');
      assert.ok(l.take(a) >= 1, 'and a is still refused');
    });

    it('the wait it answers is honest: once it has passed, the key is admitted', async () => {
      const l = f.limiter(2, 2);
      const k = key();
      assert.equal(await admitted(l, k, 10), 2);
      await f.settle();
      const wait = l.take(k);
      assert.ok(wait >= 1);
      if (f.time !== 'real') {
        await advance(100);
        assert.ok(l.take(k) >= 1, 'not before a token is back (2/s: 500 ms)');
      }
      await admittedAfter(l, k, wait * 1000, `admitted once the ${wait} s it answered have passed`);
    });

    it('tokens come back at the rate, and never more than a burst of them', async () => {
      const l = f.limiter(20, 4);
      const k = key();
      const t0 = performance.now();
      const first = await admitted(l, k, 50);
      // On a real clock tokens keep coming back at 20/s while the burst is taken (slowly, on a loaded machine).
      const refilled = f.time === 'real' ? Math.floor(((performance.now() - t0) / 1000) * 20) + 1 : 0;
      assert.ok(first >= 4 && first <= 4 + refilled, `a burst of 4 (plus the ${refilled} that could come back while taking), not ${first}`);
      await f.settle();
      assert.ok(l.take(k) >= 1);
      await admittedAfter(l, k, 50, 'one token back after 1/20 s');
      if (f.time === 'real') {
        // Time passing is the subject here: a long idle on the backend's clock, many refills' worth.
        const since = performance.now();
        await waitFor(() => performance.now() - since > 1_000, 'a second of idle', 5_000);
      } else await advance(60_000);
      await f.settle();
      const t1 = performance.now();
      const burst = await admitted(l, k, 100);
      const again = f.time === 'real' ? Math.floor(((performance.now() - t1) / 1000) * 20) + 1 : 0;
      assert.ok(burst >= 4 && burst <= 4 + again, `after a long idle: a burst (4, plus ${again} refilled while taking), not ${burst}`);
    });

    it('a crowd of other keys changes nothing for one key', async () => {
      const l = f.limiter(1, 3);
      const k = key();
      assert.equal(await admitted(l, k, 10), 3);
      for (let i = 0; i < 5_000; i++) l.take(`crowd-${i}-${k}`);
      await f.settle();
      assert.ok(l.take(k) >= 1, 'still refused');
      if (f.time !== 'real') {
        await advance(20_000); // past the idle-bucket sweep: k is full again, the crowd gone
        assert.equal(await admitted(l, k, 10), 3);
      }
    });
  });
}
