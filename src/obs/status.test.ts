import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusStats, upstreamState } from './status.js';
import type { ObservedEvent } from './pulls.js';

const T0 = Date.UTC(2026, 10, 30, 4, 0, 0);
const ev = (t: number, p: Partial<ObservedEvent> = {}): ObservedEvent => ({
  time: t, operation: 'manifest', method: 'GET', status: 200, durationMs: 1, bytes: 10, clientIp: '10.0.0.1',
  registry: 'docker.io', repository: 'library/app', cache: 'hit', pull: true, ...p,
});
const parts = { upstreams: [], inflight: { fetches: 0, waiting: 0 }, cache: { bytes: 0, maxBytes: 0, blobs: 0, evictions: 0 }, pulls: { h1: 7, h24: 9 } };

describe('StatusStats', () => {
  it('counts requests, hits, images and clients, including the second still being counted', () => {
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
    // The header's pull counts are handed in (from the SLO tracker), never counted twice.
    assert.deepEqual([d.traffic.pulls1h, d.traffic.pulls24h], [7, 9]);
    assert.deepEqual(d.topImages, [{ image: 'docker.io/library/app', pulls: 120 }, { image: 'docker.io/library/b', pulls: 30 }]);
    assert.deepEqual(d.topClients.map((c) => c.pulls).reduce((a, b) => a + b, 0), 150);
    assert.equal(d.topClients.length, 3);
  });

  it('a read sees the counts of the current second at once', () => {
    const s = new StatusStats(() => T0);
    s.record(ev(T0 - 10));
    assert.equal(s.snapshot(parts, T0).topImages[0]?.pulls, 1);
    s.record(ev(T0 - 5));
    assert.equal(s.snapshot(parts, T0).topImages[0]?.pulls, 2);
  });

  it('tool requests are counted on their own line', () => {
    const s = new StatusStats(() => T0);
    s.tool('bench', T0 - 1000); s.tool('bench', T0 - 900); s.tool('doctor', T0 - 800);
    const d = s.snapshot(parts, T0);
    assert.deepEqual(d.tools, { requests1h: 3, byTool: [{ tool: 'bench', requests: 2 }, { tool: 'doctor', requests: 1 }] });
    assert.deepEqual(d.topImages, []);
  });

  it('serialize/restore: a new instance (a restart) shows the same top lists, hit ratio and tool counts', () => {
    const a = new StatusStats(() => T0);
    for (let i = 0; i < 40; i++) a.record(ev(T0 - 3_000_000 + i * 60_000, { clientIp: `10.0.0.${i % 4}`, cache: i % 5 ? 'hit' : 'miss', repository: `library/app${i % 3}` }));
    a.tool('warm', T0 - 10_000);
    const before = a.snapshot(parts, T0);
    const b = new StatusStats(() => T0);
    assert.equal(b.restore(a.serialize(T0)), true);
    const after = b.snapshot(parts, T0);
    assert.deepEqual({ ...after, startedAt: '', generatedAt: '' }, { ...before, startedAt: '', generatedAt: '' });
    // A later reading ages the restored counts like live ones: after 25 h nothing is left.
    const late = b.snapshot(parts, T0 + 25 * 3_600_000);
    assert.deepEqual([late.topImages, late.cache.requests1h, late.tools.requests1h], [[], 0, 0]);
    assert.equal(new StatusStats().restore('{"version":2}'), false);
    assert.equal(new StatusStats().restore('not json'), false);
  });

  it('upstreams: unknown until asked, failing with its last error, down when the circuit opens, latency only while up', () => {
    const s = new StatusStats(() => T0);
    assert.equal(s.upstreamView('u', { up: true }).state, 'unknown', 'never asked: no green dot without evidence');
    s.upstream('u', true, 2, T0 - 5000);
    assert.deepEqual([s.upstreamView('u', { up: true }).state, s.upstreamView('u', { up: true }).latencyMs], ['up', 2]);
    s.upstream('u', false, 1, T0 - 4000, 'upstream http://u unreachable: connect ECONNREFUSED 127.0.0.1:1');
    const failing = s.upstreamView('u', { up: true, latencyMs: 2 });
    assert.equal(failing.state, 'failing');
    assert.equal(failing.latencyMs, null);
    assert.match(failing.lastError ?? '', /ECONNREFUSED/);
    assert.equal(failing.failingSince, new Date(T0 - 4000).toISOString());
    s.upstream('u', false, 1, T0 - 3000, 'HTTP 503');
    const down = s.upstreamView('u', { up: false, latencyMs: 1.9 });
    assert.deepEqual([down.state, down.latencyMs, down.lastError, down.failingSince], ['down', null, 'HTTP 503', new Date(T0 - 4000).toISOString()]);
    s.upstream('u', true, 3, T0 - 1000);
    const back = s.upstreamView('u', { up: true });
    assert.deepEqual([back.state, back.lastError, back.failingSince], ['up', undefined, undefined]);
    assert.equal(upstreamState({ up: false }, undefined), 'down');
  });
});
