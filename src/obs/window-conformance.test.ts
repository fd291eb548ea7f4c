// This process's sliding counter passes the window counter conformance suite, on an injected clock.
import { windowCounterSuite } from './window.suite.js';
import { SlidingCounter } from './window.js';

windowCounterSuite('sliding counter (this process)', async () => {
  let now = 1_700_000_000_000;
  return {
    counter: (windowMs, slots) => new SlidingCounter(windowMs, slots),
    time: { now: () => now, advance: (ms) => { now += ms; } },
    settle: async () => {},
    cleanup: async () => {},
  };
});
