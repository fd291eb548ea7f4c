// Fetch leases in a real Redis: the coordinator conformance suite, every instance of the fleet
// with its own connection, as separate gateway processes would have.
import { randomUUID } from 'node:crypto';
import { coordinatorSuite } from '../../src/cluster/coordinator.suite.js';
import { RedisCoordinator } from '../../src/cluster/redis-coordinator.js';
import { silentLogger } from '../../src/obs/logger.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

coordinatorSuite('redis', async () => {
  const server = await startRedis();
  const prefix = `regway:{suite-${randomUUID()}}:`;
  const leaseTtlMs = 600;
  return {
    leaseTtlMs,
    join: async (instance) => {
      const c = new RedisCoordinator(server.url, { instance, url: `http://127.0.0.1:1/${instance}` }, leaseTtlMs, silentLogger(), prefix);
      await waitFor(() => c.healthy(), `coordinator ${instance} to reach Redis`, 10_000);
      return c;
    },
    cleanup: () => server.stop(),
  };
});
