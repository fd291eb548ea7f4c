import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, pool, summarize } from './stats.js';

test('nearest-rank percentiles', () => {
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(s, 50), 50);
  assert.equal(percentile(s, 90), 90);
  assert.equal(percentile(s, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.deepEqual(summarize([3, 1, 2]), { count: 3, min: 1, mean: 2, p50: 2, p90: 3, p99: 3, max: 3 });
});

test('pool never runs more than the limit at once and keeps order', async () => {
  let running = 0;
  let peak = 0;
  const out = await pool([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
    running++;
    peak = Math.max(peak, running);
    // the time is the subject: later items finish first, so the order kept is the pool's, not completion order
    await new Promise((r) => setTimeout(r, 5 * (8 - x)));
    running--;
    return x * 10;
  });
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70]);
  assert.equal(peak, 3);
});

test('rounds alternate the endpoint order; spread is the ± around the mean', async () => {
  const { roundOrder, spreadOf } = await import('./stats.js');
  assert.deepEqual(
    [0, 1, 2, 3].map((r) => roundOrder(['a', 'b'], r)),
    [
      ['a', 'b'],
      ['b', 'a'],
      ['a', 'b'],
      ['b', 'a'],
    ],
  );
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
  assert.deepEqual(spreadOf([90, 110]), { min: 90, max: 110, mean: 100, relativePercent: 10 });
  assert.deepEqual(spreadOf([]), { min: 0, max: 0, mean: 0, relativePercent: 0 });
});
