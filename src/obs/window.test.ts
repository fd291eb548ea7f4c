import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingCounter } from './window.js';

describe('SlidingCounter', () => {
  it('counts within the window and forgets what slid out', () => {
    const w = new SlidingCounter(60_000, 60);
    for (let i = 0; i < 30; i++) w.add('a', i * 1000);
    assert.equal(w.total('a', 29_000), 30);
    assert.equal(w.total('a', 59_999), 30);
    assert.equal(w.total('a', 75_000), 14, 'the first 16 seconds left the window');
    assert.equal(w.total('a', 200_000), 0);
    assert.equal(w.add('a', 200_000), 1, 'stale slots are reset on reuse');
  });
  it('keys are independent, top() ranks them, maxKeys bounds memory', () => {
    const w = new SlidingCounter(3_600_000, 60, 3);
    w.add('x', 0, 5); w.add('y', 0, 7); w.add('z', 0, 1);
    assert.deepEqual(w.top(0, 2), [{ key: 'y', count: 7 }, { key: 'x', count: 5 }]);
    w.add('new', 0);
    assert.equal(w.size, 3);
    assert.equal(w.total('x', 0), 0, 'least recently touched key evicted');
  });
  it('prune drops empty keys', () => {
    const w = new SlidingCounter(1000, 10);
    w.add('a', 0);
    w.prune(10_000);
    assert.equal(w.size, 0);
  });
});
