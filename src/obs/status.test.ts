import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusStats } from './status.js';
import type { ObservedEvent } from './pulls.js';

const T0 = Date.UTC(2026, 10, 30, 4, 0, 0);
const ev = (t: number, p: Partial<ObservedEvent> = {}): ObservedEvent => ({
  time: t, operation: 'manifest', method: 'GET', status: 200, durationMs: 1, bytes: 10, clientIp: '10.0.0.1',
  registry: 'docker.io', repository: 'library/app', cache: 'hit', pull: true, ...p,
});
const parts = { upstreams: [], inflight: { fetches: 0, waiting: 0 }, cache: { bytes: 0, maxBytes: 0, blobs: 0, evictions: 0 } };

describe('StatusStats', () => {
  it('counts requests, hits, pulls, images and clients, including the second still being counted', () => {
    const s = new StatusStats(() => T0);
    // Spread over several seconds and minutes, so batches of one second are closed and one is open.
    for (let i = 0; i < 300; i++) {
      const t = T0 - 3_000_000 + i * 997;
      s.record(ev(t, { clientIp: `10.0.0.${i % 3}`, cache: i % 4 === 0 ? 'miss' : 'hit', pull: i % 2 === 0, repository: i % 5 === 0 ? 'library/b' : 'library/app' }));
      s.record(ev(t, { operation: 'ping', cache: undefined, pull: undefined }));
    }
    const d = s.snapshot(parts, T0);
    assert.equal(d.cache.requests1h, 300);
    assert.equal(d.cache.hitRatio1h, 225 / 300);
    assert.equal(d.traffic.requests1h, 300);
    assert.equal(d.traffic.pulls1h, 150);
    assert.equal(d.traffic.pulls24h, 150);
    assert.deepEqual(d.topImages, [{ image: 'docker.io/library/app', pulls: 120 }, { image: 'docker.io/library/b', pulls: 30 }]);
    assert.deepEqual(d.topClients.map((c) => c.pulls).reduce((a, b) => a + b, 0), 150);
    assert.equal(d.topClients.length, 3);
  });

  it('a read sees the counts of the current second at once', () => {
    const s = new StatusStats(() => T0);
    s.record(ev(T0 - 10));
    assert.equal(s.snapshot(parts, T0).traffic.pulls1h, 1);
    s.record(ev(T0 - 5));
    assert.equal(s.snapshot(parts, T0).traffic.pulls1h, 2);
  });
});
