/**
 * The conformance suite every WindowCounter must pass: this process's SlidingCounter
 * (src/obs/window-conformance.test.ts) and the fleet's SharedWindow, synced through a
 * MemoryCounterStore (src/cluster/shared-counters.test.ts) or a real Redis
 * (test/cluster/redis-shared-counters.test.ts).
 *
 * The contract, as the anomaly rules (obs/alerts/engine.ts) use it:
 *  - `add` returns the key's total over the window ending at `now`, the count just added included;
 *    `total` reads the same without adding; an unknown key totals 0;
 *  - keys are independent;
 *  - a count stays in the window for at least `window - window/slots` and leaves it by `window`,
 *    each count on its own (the window slides);
 *  - none of this changes when the implementation does its background work (a fleet's sync).
 * Time: `time` is an injected clock the suite moves, or the real one (Redis keeps its own), where
 * the suite waits for the count to leave (waitFor) within the window and some slack. The
 * background work runs while time passes (the suite settles before and after moving the clock):
 * a fleet files a count in the shared window when it syncs, so an idle with no sync would shift it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { WindowCounter } from './window.js';
import { waitFor } from '../testing/wait.js';

export interface WindowFixture {
  /** A counter nobody else uses (a fresh name on a shared backend). */
  counter(windowMs: number, slots: number): WindowCounter;
  /** The counters' clock: injected (the suite reads and moves it) or the real one (Date.now). */
  time: { now(): number; advance(ms: number): void } | 'real';
  /** Whatever the implementation does in the background (a fleet's sync with its store); nothing for a local one. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

export function windowCounterSuite(name: string, make: () => Promise<WindowFixture>): void {
  describe(`window counter conformance: ${name}`, () => {
    let f: WindowFixture;
    before(async () => {
      f = await make();
    });
    after(async () => {
      await f.cleanup();
    });
    const key = () => `10.1.${randomUUID()}`;
    const now = () => (f.time === 'real' ? Date.now() : f.time.now());
    /** Lets `ms` pass: the injected clock jumps; on the real clock, time passing is the subject, so it is waited out. */
    const pass = async (ms: number) => {
      await f.settle();
      if (f.time === 'real') {
        const until = Date.now() + ms;
        await waitFor(() => Date.now() >= until, `${ms} ms to pass`, ms + 5_000);
      } else f.time.advance(ms);
      await f.settle();
    };
    /** The key totals `n` once the window has slid far enough: exactly at `ms` on an injected clock, within `ms` and some slack on the real one. */
    const totalsAfter = async (w: WindowCounter, k: string, ms: number, n: number, what: string) => {
      if (f.time === 'real') {
        await waitFor(async () => {
          await f.settle();
          return w.total(k, now()) === n;
        }, what, ms + 3_000, { seen: () => w.total(k, now()) });
        return;
      }
      await pass(ms);
      assert.equal(w.total(k, now()), n, what);
    };

    it('add returns the running total, total reads it without adding, an unknown key totals 0', async () => {
      const w = f.counter(60_000, 60);
      const k = key();
      assert.equal(w.total(k, now()), 0);
      assert.equal(w.add(k, now()), 1);
      assert.equal(w.add(k, now()), 2);
      await f.settle();
      assert.equal(w.add(k, now(), 5), 7, 'n at once');
      assert.equal(w.total(k, now()), 7);
      assert.equal(w.total(k, now()), 7, 'reading adds nothing');
      await f.settle();
      assert.equal(w.total(k, now()), 7, 'nor does a sync');
      assert.equal(w.add(k, now(), 0), 7, 'adding 0 reads');
    });

    it('keys are independent', async () => {
      const w = f.counter(60_000, 60);
      const [a, b] = [key(), key()];
      for (let i = 0; i < 4; i++) w.add(a, now());
      await f.settle();
      assert.equal(w.add(b, now()), 1);
      await f.settle();
      assert.equal(w.total(a, now()), 4);
      assert.equal(w.total(b, now()), 1);
    });

    it('counts stay until the window has nearly passed, and are gone once it has', async () => {
      const windowMs = f.time === 'real' ? 800 : 60_000;
      const slots = 4;
      const w = f.counter(windowMs, slots);
      const k = key();
      const at = now();
      w.add(k, at, 3);
      await f.settle();
      if (f.time !== 'real') {
        await pass(windowMs - windowMs / slots - 1);
        assert.equal(w.total(k, now()), 3, 'still inside the window');
      } else if (Date.now() - at < windowMs - windowMs / slots) assert.equal(w.total(k, now()), 3, 'still inside the window');
      await totalsAfter(w, k, windowMs - (now() - at), 0, 'the count to leave the window');
    });

    it('the window slides: each count leaves on its own', async () => {
      const windowMs = f.time === 'real' ? 1_600 : 60_000;
      const w = f.counter(windowMs, 8);
      const k = key();
      w.add(k, now(), 2);
      await pass(windowMs / 2);
      assert.equal(w.add(k, now(), 3), 5);
      await totalsAfter(w, k, windowMs / 2, 3, 'the first count to leave, the second to stay');
      await totalsAfter(w, k, windowMs / 2, 0, 'the second count to leave');
    });
  });
}
