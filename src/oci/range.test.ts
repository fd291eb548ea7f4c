import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from './range.js';

test('parses the range forms clients send', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=500-', 1000), { start: 500, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=900-5000', 1000), { start: 900, end: 999 });
  assert.equal(parseRange(undefined, 10), undefined);
  assert.equal(parseRange('bytes=0-1,5-6', 10), undefined);
  // RFC 9110 §14.2: an unknown range unit is ignored, so the whole body is served.
  assert.equal(parseRange('items=0-1', 10), undefined);
});

test('unsatisfiable ranges are 416 with the size', () => {
  for (const h of ['bytes=1000-', 'bytes=5-2', 'bytes=-0', 'bytes=-']) {
    assert.throws(() => parseRange(h, 1000), (e: { status: number; headers: Record<string, string> }) => e.status === 416 && e.headers['content-range'] === 'bytes */1000', h);
  }
});
