import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterSync } from './counter-sync.js';
import { MemoryCounterStore, type CounterStore } from './counters.js';
import { silentLogger } from '../obs/logger.js';

/** `n` instances sharing one store on a simulated clock, hammering one key for 10 s. */
async function fleetAdmits(n: number, rate: number, burst: number, triesPer100ms: number): Promise<number> {
  let now = 0;
  const store = new MemoryCounterStore(() => now);
  const fleet = Array.from({ length: n }, () => new CounterSync(store, 100, silentLogger(), () => now));
  const limiters = fleet.map((s) => s.limiter('ip', rate, burst));
  let admitted = 0;
  for (let step = 0; step < 100; step++) {
    for (let t = 0; t < triesPer100ms; t++) for (const l of limiters) if (!l.take('10.0.0.1')) admitted++;
    now += 100;
    for (const s of fleet) await s.flush();
  }
  return admitted;
}

test('three instances together admit what one bucket allows, not three times as much', async () => {
  const ideal = 10 + 10 * 10; // burst + rate x 10 s
  const one = await fleetAdmits(1, 10, 10, 50);
  const three = await fleetAdmits(3, 10, 10, 50);
  assert.ok(one >= ideal - 5 && one <= ideal, `one instance: ${one}`);
  // Per-instance buckets would admit 3 x 110 = 330; sharing overshoots by at most a burst.
  assert.ok(three >= ideal - 5 && three <= ideal + 10, `three instances: ${three}`);
});

test('a fleet at a high rate reaches the full rate (sync does not throttle below it)', async () => {
  const three = await fleetAdmits(3, 100, 100, 50);
  assert.ok(three >= 1050 && three <= 1200, `three instances at 100/s: ${three}`);
});

test('the Retry-After reflects what the fleet used, not this instance alone', async () => {
  let now = 0;
  const store = new MemoryCounterStore(() => now);
  const [a, b] = [new CounterSync(store, 100, silentLogger(), () => now), new CounterSync(store, 100, silentLogger(), () => now)];
  const [la, lb] = [a.limiter('user', 1, 5), b.limiter('user', 1, 5)];
  for (let i = 0; i < 5; i++) assert.equal(la.take('alice'), 0);
  await a.flush();
  assert.equal(lb.take('alice'), 0, 'b has not heard yet: its own bucket decides');
  await b.flush();
  const wait = lb.take('alice');
  assert.ok(wait >= 2, `b now knows the fleet is in debt: wait ${wait} s`);
  assert.ok(la.take('alice') >= 1, 'a refuses too');
  assert.equal(lb.take('bob'), 0, 'other keys are untouched');
});

test('windows: each instance sees the fleet total after a sync, plus what it counted since', async () => {
  let now = 1_000_000;
  const store = new MemoryCounterStore(() => now);
  const [a, b] = [new CounterSync(store, 100, silentLogger(), () => now), new CounterSync(store, 100, silentLogger(), () => now)];
  const [wa, wb] = [a.window('pulls', 60_000), b.window('pulls', 60_000)];
  for (let i = 0; i < 3; i++) wa.add('10.0.0.1', now);
  assert.equal(wb.add('10.0.0.1', now), 1, 'before any sync b knows only its own');
  await a.flush();
  await b.flush();
  assert.equal(wb.total('10.0.0.1', now), 4);
  assert.equal(wb.add('10.0.0.1', now), 5, 'fleet total plus the one not yet sent');
  assert.equal(wa.total('10.0.0.1', now), 3, 'a has not synced since b counted');
  await a.flush(); // a read the key: the sync asks for its total
  assert.equal(wa.total('10.0.0.1', now), 4);
  await b.flush();
  await a.flush();
  assert.equal(wa.total('10.0.0.1', now), 5);
  now += 61_000;
  await a.flush();
  assert.equal(wa.total('10.0.0.1', now), 0, 'the window slid past every count');
});

test('a store that fails or is unreachable leaves each instance counting alone, and it recovers', async () => {
  let now = 0;
  let up = true;
  const mem = new MemoryCounterStore(() => now);
  const store: CounterStore = {
    healthy: () => up,
    takeTokens: (b) => (up ? mem.takeTokens(b) : Promise.reject(new Error('down'))),
    addToWindows: (b) => (up ? mem.addToWindows(b) : Promise.reject(new Error('down'))),
  };
  const s = new CounterSync(store, 100, silentLogger(), () => now);
  const l = s.limiter('ip', 1, 2);
  const w = s.window('logins', 60_000);
  up = false;
  assert.equal(l.take('x'), 0);
  assert.equal(l.take('x'), 0);
  assert.ok(l.take('x') >= 1, 'the local bucket still limits');
  assert.equal(w.add('x', now), 1);
  await s.flush(); // nothing thrown, nothing kept for later
  now += 10_000;
  up = true;
  await s.flush();
  assert.equal(l.take('x'), 0);
  await s.flush();
  assert.equal(await mem.takeTokens([{ key: 'rate:ip:x', rate: 1, burst: 2, used: 0 }]).then((r) => r[0]), 1, 'only the token taken after recovery reached the store');
  assert.equal(s.syncs, 2);
});
