import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from './tokens.js';

test('tokens expire early by a margin and concurrent fetches share one request', async () => {
  let now = 0;
  const c = new TokenCache(() => now);
  let calls = 0;
  const fetch = async () => { calls++; return { token: `t${calls}`, expiresIn: 300 }; };
  const [a, b] = await Promise.all([c.getOrFetch('k', fetch), c.getOrFetch('k', fetch)]);
  assert.equal(a, 't1'); assert.equal(b, 't1'); assert.equal(calls, 1);
  now = 269_000; // 300 s minus 10% margin = 270 s
  assert.equal(c.get('k'), 't1');
  now = 270_001;
  assert.equal(c.get('k'), undefined);
  assert.equal(await c.getOrFetch('k', fetch), 't2');
});

test('a missing expires_in means 60 s', () => {
  let now = 0;
  const c = new TokenCache(() => now);
  c.set('k', 'x', 0);
  now = 53_999; assert.equal(c.get('k'), 'x');
  now = 54_001; assert.equal(c.get('k'), undefined);
});
