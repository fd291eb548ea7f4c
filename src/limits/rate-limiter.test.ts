// This process's token buckets pass the rate limiter conformance suite, on an injected clock.
import { rateLimiterSuite } from './rate-limiter.suite.js';
import { TokenBuckets } from './token-bucket.js';

rateLimiterSuite('token buckets (this process)', async () => {
  let now = 1_700_000_000_000;
  return {
    limiter: (rate, burst) => new TokenBuckets(rate, burst, () => now),
    time: { advance: (ms) => { now += ms; } },
    settle: async () => {},
    cleanup: async () => {},
  };
});
