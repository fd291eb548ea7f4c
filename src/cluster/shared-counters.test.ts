// The fleet's rate limiters and alert windows (CounterSync over a MemoryCounterStore, one clock
// injected into both) pass the same conformance suites as this process's own: sharing must not
// change what a single instance answers. The Redis store runs them in test/cluster.
import { rateLimiterSuite } from '../limits/rate-limiter.suite.js';
import { windowCounterSuite } from '../obs/window.suite.js';
import { CounterSync } from './counter-sync.js';
import { MemoryCounterStore } from './counters.js';
import { silentLogger } from '../obs/logger.js';

rateLimiterSuite('shared buckets (fleet, memory store)', async () => {
  let now = 1_700_000_000_000;
  const sync = new CounterSync(new MemoryCounterStore(() => now), 100, silentLogger(), () => now);
  let n = 0;
  return {
    limiter: (rate, burst) => sync.limiter(`scope-${n++}`, rate, burst),
    time: { advance: (ms) => { now += ms; } },
    settle: () => sync.flush(),
    cleanup: () => sync.close(),
  };
});

windowCounterSuite('shared window (fleet, memory store)', async () => {
  let now = 1_700_000_000_000;
  const sync = new CounterSync(new MemoryCounterStore(() => now), 100, silentLogger(), () => now);
  let n = 0;
  return {
    counter: (windowMs, slots) => sync.window(`w-${n++}`, windowMs, slots),
    time: { now: () => now, advance: (ms) => { now += ms; } },
    settle: () => sync.flush(),
    cleanup: () => sync.close(),
  };
});
