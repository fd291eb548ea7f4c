// Two gateways on one real Redis count rate limits and anomaly rules for the whole fleet: a client
// spreading requests over both gets the fleet's rate (not twice it), and pulls spread over both
// trip the pulls-per-client alert that neither would alone. Without Redis, each counts alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { applyOverrides } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { silentLogger } from '../../src/obs/logger.js';
import { waitFor } from '../helpers/wait.js';

const REG = 'registry.limits.test';
const RATE = 2;
const BURST = 4;
// the time is the subject: these tests measure rates over wall time; each use below says why
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fleet-wide rate limits and alert counters through Redis', () => {
  let redis: RedisServer;
  let up: Distribution;
  const gws: { gw: Gateway; url: string; dir: string }[] = [];

  before(async () => {
    [redis, up] = await Promise.all([startRedis(), startDistribution()]);
    await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 1024 });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const dir = makeTempDir('fleet-limits');
      const config = applyOverrides({
        listen: `127.0.0.1:${port}`, storage: { path: dir },
        registries: { [REG]: { upstreams: [{ url: up.url }] } },
        limits: { ipRate: RATE, ipBurst: BURST },
        alerts: { cooldown: '1h', rules: { pullsPerClient: { threshold: 5, window: '10m' } } },
        cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, peerToken: 'test-peer-token-0123456789', instanceId: `l${i}`, syncInterval: '50ms' },
      }, {});
      const gw = await createGateway(config, silentLogger());
      await gw.app.listen({ host: '127.0.0.1', port });
      gws.push({ gw, dir, url: `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}` });
    }
    await waitFor(() => gws.every((g) => g.gw.coordinator.healthy()), 'both instances connected to Redis', 10_000);
  });
  after(async () => {
    for (const g of gws) { await g.gw.close(); removeTempDir(g.dir); }
    await up?.stop(); await redis?.stop();
  });

  /** Requests alternating over both instances for `ms`; counts per status. */
  async function hammer(ms: number, path = '/v2/'): Promise<{ ok: number; limited: number; elapsedS: number; retryAfter: Set<string> }> {
    const t0 = Date.now();
    let ok = 0; let limited = 0; let i = 0;
    const retryAfter = new Set<string>();
    while (Date.now() - t0 < ms) {
      const r = await request(gws[i++ % 2]!.url + path);
      await r.body.dump();
      if (r.statusCode === 200) ok++;
      else if (r.statusCode === 429) { limited++; retryAfter.add(String(r.headers['retry-after'])); }
      else assert.fail(`unexpected status ${r.statusCode}`);
      await sleep(10); // the time is the subject: a steady request rate for the bucket to refuse
    }
    return { ok, limited, elapsedS: (Date.now() - t0) / 1000, retryAfter };
  }

  it('a client alternating between instances gets the fleet rate, not one rate per instance', async () => {
    const r = await hammer(5000);
    const fleet = BURST + RATE * r.elapsedS;
    const perInstance = 2 * fleet;
    // A burst may overshoot once per instance before the first sync; after that the fleet shares one bucket.
    assert.ok(r.ok <= fleet + BURST + 2, `admitted ${r.ok}; the fleet allows ~${fleet.toFixed(1)}, two separate buckets ~${perInstance.toFixed(1)}`);
    assert.ok(r.ok >= RATE * r.elapsedS - 1, `admitted ${r.ok}: the fleet must still get its rate`);
    assert.ok(r.limited > 50, `most requests were refused (${r.limited})`);
    assert.ok([...r.retryAfter].every((s) => Number(s) >= 1), `Retry-After on every 429: ${[...r.retryAfter]}`);
  });

  it('pulls spread over the fleet trip the pulls-per-client alert that neither instance would alone', async () => {
    await sleep(BURST / RATE * 1000 + 500); // the time is the subject: the bucket refills, so pulls are not rate limited here
    const pull = async (base: string) => {
      const r = await request(`${base}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json' } });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
      await sleep(600); // the time is the subject: pulls stay within the rate (2/s)
    };
    for (let i = 0; i < 3; i++) { await pull(gws[0]!.url); await pull(gws[1]!.url); }
    const alerts = await waitFor(() => { const l = gws.flatMap((g) => g.gw.obs.alerts.recent().filter((a) => a.rule === 'pulls-per-client')); return l.length >= 1 && l; }, 'the pulls-per-client alert', 5_000).catch(() => []);
    assert.ok(alerts.length >= 1, 'six pulls over two instances (three each) exceed the threshold of five fleet-wide');
    assert.ok(alerts[0]!.value > 5, `alert value ${alerts[0]!.value}`);
  });

  it('without Redis each instance limits alone and keeps serving', async () => {
    redis.kill();
    await waitFor(() => gws.every((g) => !g.gw.coordinator.healthy()), 'both instances to see Redis gone', 5_000);
    await sleep(BURST / RATE * 1000 + 500); // the time is the subject: the buckets refill before the measurement
    const r = await hammer(3000);
    const perInstance = 2 * (BURST + RATE * r.elapsedS);
    assert.ok(r.ok >= perInstance - 3 && r.ok <= perInstance + 2, `admitted ${r.ok}: each instance's own bucket (~${perInstance.toFixed(1)} together)`);
  });
});
