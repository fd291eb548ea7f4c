/**
 * The conformance suite every CounterStore must pass (memory and Redis). Timing: buckets refill
 * and windows slide on the store's own clock, so the tests wait real time, with generous bounds.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { CounterStore } from './counters.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)); // the time is the subject: buckets refill and windows forget as time passes

export function counterStoreSuite(name: string, make: () => Promise<{ store: CounterStore; cleanup: () => Promise<void> }>): void {
  describe(`counter store conformance: ${name}`, () => {
    let s: CounterStore;
    let cleanup: () => Promise<void>;
    // Fresh keys per test: a store may outlive a test (Redis), and tests must not see each other.
    const k = (x: string) => `${x}-${randomUUID()}`;
    before(async () => { ({ store: s, cleanup } = await make()); });
    after(async () => { await cleanup(); });

    it('is healthy when reachable', () => assert.equal(s.healthy(), true));

    it('a bucket starts full, hands out tokens and keeps a bounded debt', async () => {
      const key = k('b');
      const [left] = await s.takeTokens([{ key, rate: 1, burst: 10, used: 4 }]);
      assert.ok(left! > 5.9 && left! <= 6.1, `10 - 4 = ${left}`);
      const [debt] = await s.takeTokens([{ key, rate: 1, burst: 10, used: 9 }]);
      assert.ok(debt! < -2.8 && debt! > -3.2, `6 - 9 = ${debt}`);
      const [floor] = await s.takeTokens([{ key, rate: 1, burst: 10, used: 1000 }]);
      assert.ok(floor! >= -10 && floor! < -9.8, `debt floored at -burst, got ${floor}`);
    });

    it('a bucket refills at its rate, never above its burst', async () => {
      const key = k('r');
      await s.takeTokens([{ key, rate: 20, burst: 5, used: 5 }]);
      await sleep(150); // the time is the subject: refill / window expiry
      const [left] = await s.takeTokens([{ key, rate: 20, burst: 5, used: 0 }]);
      assert.ok(left! >= 2.5 && left! <= 5, `~3 tokens back after 150 ms at 20/s, got ${left}`);
      await sleep(400); // the time is the subject: refill / window expiry
      const [full] = await s.takeTokens([{ key, rate: 20, burst: 5, used: 0 }]);
      assert.equal(full, 5);
    });

    it('a batch touches each key on its own', async () => {
      const [a, b] = [k('a'), k('b')];
      const left = await s.takeTokens([{ key: a, rate: 1, burst: 3, used: 1 }, { key: b, rate: 1, burst: 8, used: 2 }]);
      assert.deepEqual(left.map(Math.round), [2, 6]);
      assert.deepEqual(await s.takeTokens([]), []);
    });

    it('a window sums what every caller added, and reading adds nothing', async () => {
      const key = k('w');
      assert.deepEqual(await s.addToWindows([{ key, windowMs: 60_000, slots: 60, added: 3 }]), [3]);
      assert.deepEqual(await s.addToWindows([{ key, windowMs: 60_000, slots: 60, added: 4 }]), [7]);
      assert.deepEqual(await s.addToWindows([{ key, windowMs: 60_000, slots: 60, added: 0 }]), [7]);
      assert.deepEqual(await s.addToWindows([{ key: k('other'), windowMs: 60_000, slots: 60, added: 0 }]), [0]);
    });

    it('a window forgets counts older than the window', async () => {
      const key = k('old');
      await s.addToWindows([{ key, windowMs: 400, slots: 4, added: 5 }]);
      await sleep(250); // the time is the subject: refill / window expiry
      const [mid] = await s.addToWindows([{ key, windowMs: 400, slots: 4, added: 1 }]);
      assert.equal(mid, 6);
      await sleep(600); // the time is the subject: refill / window expiry
      assert.deepEqual(await s.addToWindows([{ key, windowMs: 400, slots: 4, added: 0 }]), [0]);
    });
  });
}
