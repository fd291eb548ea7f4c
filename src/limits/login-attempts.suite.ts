/**
 * The conformance suite for LoginAttempts (this process's LoginBackoff, the fleet's Redis one).
 * `make` builds attempts with threshold 2, delay 300 ms, max delay 1 s. Real time, loose bounds.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LoginAttempts } from './token-bucket.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)); // the time is the subject: backoff delays run out as time passes

export function loginAttemptsSuite(name: string, make: () => Promise<{ attempts: LoginAttempts; cleanup: () => Promise<void> }>): void {
  describe(`login attempts conformance: ${name}`, () => {
    let a: LoginAttempts;
    let cleanup: () => Promise<void>;
    before(async () => { ({ attempts: a, cleanup } = await make()); });
    after(async () => { await cleanup(); });

    it('backs off after the threshold, doubles the delay, and a success clears it', async () => {
      const user = randomUUID();
      assert.equal(await a.wait('10.0.0.1', user), 0);
      await a.failed('10.0.0.1', user);
      assert.equal(await a.wait('10.0.0.1', user), 0, 'below the threshold');
      await a.failed('10.0.0.1', user);
      assert.equal(await a.wait('10.0.0.1', user), 1, '300 ms left: Retry-After rounds up to 1 s');
      assert.equal(await a.wait('10.0.0.2', user), 0, 'another address is not blocked');
      assert.equal(await a.wait('10.0.0.1', `${user}x`), 0, 'another user is not blocked');
      await sleep(400); // the time is the subject: the backoff delay passing
      assert.equal(await a.wait('10.0.0.1', user), 0, 'the delay has passed');
      await a.failed('10.0.0.1', user);
      await sleep(400); // the time is the subject: the backoff delay passing
      assert.equal(await a.wait('10.0.0.1', user), 1, 'the third failure waits 600 ms');
      await a.succeeded('10.0.0.1', user);
      assert.equal(await a.wait('10.0.0.1', user), 0);
    });

    it('never waits longer than the maximum delay', async () => {
      const user = randomUUID();
      for (let i = 0; i < 12; i++) await a.failed('10.0.0.3', user);
      assert.equal(await a.wait('10.0.0.3', user), 1);
      await sleep(1100); // the time is the subject: the backoff delay passing
      assert.equal(await a.wait('10.0.0.3', user), 0);
    });
  });
}
