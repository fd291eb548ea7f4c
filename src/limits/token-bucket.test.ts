import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimit, LoginBackoff, TokenBuckets } from './token-bucket.js';

test('a bucket allows its burst, then refills at its rate, per key', () => {
  let now = 0;
  const b = new TokenBuckets(2, 3, () => now);
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0]);
  assert.equal(b.take('a'), 1, 'empty: retry after 1 s');
  assert.equal(b.take('b'), 0, 'another key has its own bucket');
  now += 500; // one token back at 2/s
  assert.equal(b.take('a'), 0);
  assert.equal(b.take('a'), 1);
  now += 10_000;
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [0, 0, 0, 1], 'refill never exceeds the burst');
});

test('slow rates give a longer Retry-After; rate 0 disables', () => {
  let now = 0;
  const b = new TokenBuckets(0.1, 1, () => now);
  assert.equal(b.take('x'), 0);
  assert.equal(b.take('x'), 10);
  assert.equal(new TokenBuckets(0, 0).take('x'), 0);
});

test('concurrency cap per key, release once only', () => {
  const c = new ConcurrencyLimit(2);
  const r1 = c.acquire('ip')!;
  const r2 = c.acquire('ip')!;
  assert.equal(c.acquire('ip'), undefined);
  assert.ok(c.acquire('other'));
  r1(); r1();
  const r3 = c.acquire('ip');
  assert.ok(r3);
  assert.equal(c.acquire('ip'), undefined, 'a double release did not free two slots');
  r2();
});

test('failed logins: free attempts up to the threshold, then doubling waits, success clears', () => {
  let now = 0;
  const l = new LoginBackoff(3, 1000, 8000, () => now);
  l.failed('1.2.3.4', 'alice'); l.failed('1.2.3.4', 'alice');
  assert.equal(l.wait('1.2.3.4', 'alice'), 0);
  l.failed('1.2.3.4', 'alice');
  assert.equal(l.wait('1.2.3.4', 'alice'), 1);
  assert.equal(l.wait('5.6.7.8', 'alice'), 0, 'another IP is not locked out');
  now += 1000;
  l.failed('1.2.3.4', 'alice');
  assert.equal(l.wait('1.2.3.4', 'alice'), 2);
  now += 2000; l.failed('1.2.3.4', 'alice');
  now += 4000; l.failed('1.2.3.4', 'alice');
  assert.equal(l.wait('1.2.3.4', 'alice'), 8, 'capped');
  l.succeeded('1.2.3.4', 'alice');
  assert.equal(l.wait('1.2.3.4', 'alice'), 0);
});
