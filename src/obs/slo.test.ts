import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SloTracker, binOf, quantile } from './slo.js';
import type { ObservedEvent } from './pulls.js';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const pull = (time: number, durationMs: number, failed = false): ObservedEvent => ({
  time, durationMs, operation: 'manifest', method: 'GET', status: failed ? 502 : 200, bytes: 0, clientIp: '::1', pull: true, pullFailed: failed || undefined,
});

describe('SloTracker', () => {
  it('ratio, budget and mean by hand; windows 1h/24h/30d pick the right buckets', () => {
    let now = T0;
    const s = new SloTracker({ successPercent: 99, latencyMs: 500 }, () => now);
    // 40 days ago (outside every window), 2 days ago (30d only), 3 h ago (24h, 30d), now (all).
    s.record(pull(T0 - 40 * 86_400_000, 100, true));
    for (let i = 0; i < 10; i++) s.record(pull(T0 - 2 * 86_400_000, 100, i < 2));
    for (let i = 0; i < 10; i++) s.record(pull(T0 - 3 * 3_600_000, 300));
    for (let i = 0; i < 100; i++) s.record(pull(T0 - 1000, 200, i === 0));
    const r = s.report(now);
    const [h1, d1, d30] = r.windows;
    assert.deepEqual([h1!.pulls, h1!.failed], [100, 1]);
    assert.deepEqual([d1!.pulls, d1!.failed], [110, 1]);
    assert.deepEqual([d30!.pulls, d30!.failed], [120, 3]);
    assert.equal(h1!.successPercent, 99);
    assert.equal(h1!.met.success, true);
    assert.ok(Math.abs(h1!.errorBudget.remaining - 0) < 1e-9, 'allowed 1 failure of 100 at 99 %, 1 used');
    assert.equal(d30!.met.success, false);
    assert.ok(Math.abs(d30!.errorBudget.remaining - (1 - 3 / 1.2)) < 1e-9);
    // Latency only over pulls not failed: 99 × 200 ms in the last hour.
    assert.equal(h1!.latencyMs.samples, 99);
    assert.equal(h1!.latencyMs.mean, 200);
    assert.ok(Math.abs(h1!.latencyMs.p50! - 200) / 200 < 0.1, `p50 ${h1!.latencyMs.p50}`);
    assert.equal(d1!.latencyMs.mean, (99 * 200 + 10 * 300) / 109);
    now = T0 + 3_600_000 + 60_000;
    assert.equal(s.report(now).windows[0]!.pulls, 0, 'an hour later the 1h window is empty');
  });
  it('no pulls is no data, not 100 %', () => {
    const w = new SloTracker({ successPercent: 99.95, latencyMs: 500 }).report().windows[0]!;
    assert.equal(w.successPercent, null);
    assert.equal(w.met.success, null);
    assert.equal(w.errorBudget.remaining, 1);
  });
  it('percentiles from the histogram stay within 10 %', () => {
    const s = new SloTracker({ successPercent: 99.9, latencyMs: 500 }, () => T0);
    const values: number[] = [];
    for (let i = 0; i < 1000; i++) { const v = 5 + ((i * 7919) % 1000) * 2; values.push(v); s.record(pull(T0, v)); }
    values.sort((a, b) => a - b);
    const w = s.report(T0).windows[0]!;
    for (const [q, got] of [[0.5, w.latencyMs.p50], [0.95, w.latencyMs.p95], [0.99, w.latencyMs.p99]] as const) {
      const truth = values[Math.ceil(q * values.length) - 1]!;
      assert.ok(Math.abs(got! - truth) / truth < 0.1, `q${q}: ${got} vs ${truth}`);
    }
  });
  it('memory stays bounded over 60 days of traffic (minute buckets pruned after 24 h, hours after 30 d)', () => {
    let now = T0;
    const s = new SloTracker({ successPercent: 99.9, latencyMs: 500 }, () => now);
    for (let m = 0; m < 60 * 24 * 60; m += 7) { now = T0 + m * 60_000; s.record(pull(now, 50)); }
    assert.ok(s.bucketCount <= 1441 + 721, `buckets: ${s.bucketCount}`);
  });
  it('serialize/restore round-trips; a foreign or corrupt file is refused', () => {
    const s = new SloTracker({ successPercent: 99, latencyMs: 500 }, () => T0);
    for (let i = 0; i < 50; i++) s.record(pull(T0 - i * 60_000, 10 + i, i % 10 === 0));
    const t = new SloTracker({ successPercent: 99, latencyMs: 500 }, () => T0);
    assert.equal(t.restore(s.serialize()), true);
    assert.deepEqual(t.report(T0), s.report(T0));
    assert.equal(new SloTracker(s.targets).restore('{"version":1,"bins":{"factor":2,"count":3}}'), false);
    assert.equal(new SloTracker(s.targets).restore('not json'), false);
  });
  it('bins: monotonic, quantile of an empty histogram is null', () => {
    assert.equal(binOf(0), 0);
    assert.ok(binOf(10) < binOf(11) || binOf(10) === binOf(11));
    assert.ok(binOf(1e9) === binOf(1e12));
    assert.equal(quantile(new Uint32Array(140), 0, 0.5), null);
  });
});
