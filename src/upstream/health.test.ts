import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamHealth, parseRetryAfter } from './health.js';
import { parseRateLimit } from '../client/upstream-client.js';

test('opens after consecutive failures, skips while open, one half-open trial, closes on success', () => {
  let now = 0;
  const h = new UpstreamHealth({ failureThreshold: 2, openFor: 10_000 }, () => now);
  assert.equal(h.available(), true);
  h.failure('refused');
  assert.equal(h.available(), true, 'one failure is not enough');
  h.failure('refused');
  assert.equal(h.available(), false, 'open: skipped at no cost');
  assert.equal(h.snapshot().up, false);
  now = 10_000;
  assert.equal(h.available(), true, 'half-open trial');
  assert.equal(h.available(), false, 'only one trial at a time');
  h.success(12);
  assert.equal(h.available(), true);
  assert.equal(h.snapshot().state, 'closed');
});

test('a failed half-open trial reopens at once', () => {
  let now = 0;
  const h = new UpstreamHealth({ failureThreshold: 3, openFor: 1000 }, () => now);
  h.failure('x'); h.failure('x'); h.failure('x');
  now = 1000;
  assert.equal(h.available(), true);
  h.failure('still down');
  assert.equal(h.available(), false);
  now = 2000;
  assert.equal(h.available(), true);
});

test('429 skips the upstream for Retry-After', () => {
  let now = 0;
  const h = new UpstreamHealth({ failureThreshold: 3, openFor: 1000 }, () => now);
  h.limited(30_000);
  now = 29_999; assert.equal(h.available(), false);
  assert.equal(h.retryAfterMs(), 1);
  now = 30_000; assert.equal(h.available(), true);
});

test('a successful probe (rate-limited registries answer /v2/ with 200) does not end the Retry-After window', () => {
  let now = 0;
  const h = new UpstreamHealth({ failureThreshold: 3, openFor: 1000 }, () => now);
  h.limited(3_600_000);
  now = 10_000;
  h.success(5);
  assert.equal(h.available(), false);
  assert.equal(h.isUp(), false);
  assert.equal(h.snapshot().rateLimitedUntil, 3_600_000);
  now = 3_600_000;
  assert.equal(h.available(), true);
});

test('Retry-After and rate-limit header parsing', () => {
  assert.equal(parseRetryAfter('120'), 120_000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRateLimit('76;w=21600'), 76);
  assert.equal(parseRateLimit(undefined), undefined);
});
