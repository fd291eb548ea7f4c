import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertsSchema } from '../../config/observability.js';
import { AlertEngine, isFailedLogin, type Alert } from './engine.js';
import type { ObservedEvent } from '../pulls.js';

const cfg = (over: object = {}) => alertsSchema.parse(over);
const ev = (p: Partial<ObservedEvent>): ObservedEvent => ({ time: now, operation: 'manifest', method: 'GET', status: 200, durationMs: 1, bytes: 0, clientIp: '10.0.0.9', ...p });
let now = Date.UTC(2026, 0, 1);

describe('AlertEngine', () => {
  it('150 pulls from one address with the default threshold fire exactly one alert (cooldown)', () => {
    const fired: Alert[] = [];
    const e = new AlertEngine(cfg(), (a) => fired.push(a), () => now);
    for (let i = 0; i < 150; i++) { now += 1000; e.record(ev({ pull: true })); }
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.rule, 'pulls-per-client');
    assert.equal(fired[0]!.value, 101);
    assert.equal(fired[0]!.clientIp, '10.0.0.9');
    // Non-pull requests (layers) do not count.
    const other = new AlertEngine(cfg(), (a) => fired.push(a), () => now);
    for (let i = 0; i < 500; i++) other.record(ev({ operation: 'blob', clientIp: '10.0.0.10' }));
    assert.equal(fired.length, 1);
  });
  it('fires again after the cooldown if the client keeps going; other clients are separate', () => {
    const fired: Alert[] = [];
    const e = new AlertEngine(cfg({ cooldown: '1h', rules: { pullsPerClient: { threshold: 3, window: '1h' } } }), (a) => fired.push(a), () => now);
    for (let i = 0; i < 10; i++) e.record(ev({ pull: true }));
    for (let i = 0; i < 10; i++) e.record(ev({ pull: true, clientIp: '10.0.0.77' }));
    assert.equal(fired.length, 2);
    now += 3_600_001;
    for (let i = 0; i < 10; i++) e.record(ev({ pull: true, time: now }));
    assert.equal(fired.length, 3);
    assert.deepEqual(e.recent().map((a) => a.key), ['10.0.0.9', '10.0.0.77', '10.0.0.9']);
  });
  it('failed logins: token refusals and 401s that named a user; anonymous 401s are the protocol', () => {
    assert.equal(isFailedLogin(ev({ operation: 'token', status: 401 })), true);
    assert.equal(isFailedLogin(ev({ status: 401, user: 'bob' })), true);
    assert.equal(isFailedLogin(ev({ status: 401 })), false);
    const fired: Alert[] = [];
    const e = new AlertEngine(cfg({ rules: { failedLogins: { threshold: 5 } } }), (a) => fired.push(a), () => now);
    for (let i = 0; i < 20; i++) e.record(ev({ operation: 'token', status: 401, user: 'bob' }));
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.rule, 'failed-logins');
  });
  it('upstream error ratio needs enough requests, then fires', () => {
    const fired: Alert[] = [];
    const e = new AlertEngine(cfg({ rules: { upstreamErrors: { ratio: 0.5, minRequests: 10 } } }), (a) => fired.push(a), () => now);
    for (let i = 0; i < 9; i++) e.recordUpstream('http://up', false, now);
    assert.equal(fired.length, 0);
    for (let i = 0; i < 10; i++) e.recordUpstream('http://up', i % 3 !== 0, now);
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.upstream, 'http://up');
  });
  it('cache hit ratio: a sudden drop against the earlier baseline fires, a steady low ratio does not', () => {
    const fired: Alert[] = [];
    const e = new AlertEngine(cfg({ rules: { cacheHitDrop: { drop: 0.3, window: '15m', baseline: '6h', minRequests: 50 } } }), (a) => fired.push(a), () => now);
    let t = now;
    for (let i = 0; i < 300; i++) { t += 30_000; e.record(ev({ time: t, cache: i % 10 === 0 ? 'miss' : 'hit' })); } // 90 % for 2.5 h
    assert.equal(fired.length, 0);
    for (let i = 0; i < 100; i++) { t += 5_000; e.record(ev({ time: t, cache: i % 5 === 0 ? 'hit' : 'miss' })); } // 20 % now
    assert.equal(fired.length, 1);
    assert.equal(fired[0]!.rule, 'cache-hit-drop');
    const steady: Alert[] = [];
    const s = new AlertEngine(cfg(), (a) => steady.push(a), () => now);
    for (let i = 0; i < 1000; i++) { t += 20_000; s.record(ev({ time: t, cache: i % 5 === 0 ? 'hit' : 'miss' })); }
    assert.equal(steady.length, 0);
  });
});
