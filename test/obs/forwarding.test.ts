// Audit forwarding over HTTP: batches arrive in order after the endpoint recovers (retries), and a
// dead endpoint (accepts connections, never answers) does not slow pulls down: measured against
// the same pulls on a gateway without forwarding.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import type { HttpSink } from '../../src/obs/audit/forwarders.js';
import { startObsGateway, scriptedPull, pool, startReceiver, startBlackhole, auditLines, origin, type ObsGateway, type Receiver } from './setup.js';
import { waitFor } from '../helpers/wait.js';

const IMAGE = 'registry.example.com/team/app';

describe('audit forwarding over HTTP', () => {
  let up: Distribution;
  before(async () => {
    up = await startDistribution();
    await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 8192 });
  });
  after(async () => { await up?.stop(); });

  describe('to a flaky endpoint', () => {
    let gw: ObsGateway;
    let rx: Receiver;
    before(async () => {
      rx = await startReceiver();
      rx.failFirst(2); // the first two POSTs get 503: retried with backoff
      gw = await startObsGateway({ 'registry.example.com': origin(up.url) }, { audit: { http: { url: `${rx.url}/ingest`, headers: { 'x-api-key': 'k' }, batch: 10 } } });
    });
    after(async () => { await gw?.stop(); await rx?.stop(); });

    it('every line arrives, in order, as NDJSON, after retries', async () => {
      for (let i = 0; i < 20; i++) assert.equal((await scriptedPull(gw.url, IMAGE, 'v1')).status, 200);
      // The last response's event is written just after the client has its body: wait for it.
      await waitFor(() => auditLines(gw.auditPath).length >= 20 * 4, 'audit lines', 10_000);
      const fileLines = auditLines(gw.auditPath).map((l) => JSON.stringify(l));
      assert.equal(fileLines.length, 20 * 4);
      await waitFor(() => rx.bodies.flatMap((b) => b.body.split('\n').filter(Boolean)).length >= fileLines.length, 'forwarded lines', 15_000);
      const got = rx.bodies.flatMap((b) => b.body.split('\n').filter(Boolean)).map((l) => JSON.stringify(JSON.parse(l)));
      assert.deepEqual(got, fileLines);
      assert.ok(rx.bodies.every((b) => b.headers['content-type'] === 'application/x-ndjson' && b.headers['x-api-key'] === 'k'));
      assert.ok(rx.bodies.every((b) => b.body.split('\n').filter(Boolean).length <= 10), 'batches of at most 10 lines');
      assert.equal(gw.obs.audit.dropped.http, 0);
    });
  });

  describe('to a dead endpoint', () => {
    let plain: ObsGateway;
    let forwarding: ObsGateway;
    let hole: { url: string; stop(): Promise<void> };
    before(async () => {
      hole = await startBlackhole();
      plain = await startObsGateway({ 'registry.example.com': origin(up.url) });
      forwarding = await startObsGateway({ 'registry.example.com': origin(up.url) }, { audit: { http: { url: hole.url, timeout: '2s', retries: 5, queue: 500, batch: 50 } } });
      for (const g of [plain, forwarding]) assert.equal((await scriptedPull(g.url, IMAGE, 'v1')).status, 200); // warm the cache
    });
    after(async () => { await plain?.stop(); await forwarding?.stop(); await hole?.stop(); });

    it('does not slow pulls (timed against a gateway without forwarding)', async (t) => {
      // Pulls alternate between the two gateways one by one, so the machine's load (other tests run
      // alongside) hits both sides alike; compare the per-pull latency distributions.
      const N = 300;
      const lat: { plain: number[]; forwarding: number[] } = { plain: [], forwarding: [] };
      await pool(N, 4, async (i) => {
        for (const [name, g] of (i % 2 ? [['plain', plain], ['forwarding', forwarding]] : [['forwarding', forwarding], ['plain', plain]]) as [keyof typeof lat, ObsGateway][]) {
          const start = performance.now();
          const r = await scriptedPull(g.url, IMAGE, 'v1');
          lat[name].push(performance.now() - start);
          assert.equal(r.status, 200);
        }
      });
      const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;
      const ratio50 = q(lat.forwarding, 0.5) / q(lat.plain, 0.5);
      const ratio90 = q(lat.forwarding, 0.9) / q(lat.plain, 0.9);
      t.diagnostic(`${N} pulls each (manifest + 3 blobs), interleaved: p50 ${q(lat.plain, 0.5).toFixed(1)} vs ${q(lat.forwarding, 0.5).toFixed(1)} ms (x${ratio50.toFixed(2)}), ` +
        `p90 ${q(lat.plain, 0.9).toFixed(1)} vs ${q(lat.forwarding, 0.9).toFixed(1)} ms (x${ratio90.toFixed(2)}), max with forwarder ${Math.max(...lat.forwarding).toFixed(0)} ms`);
      // A forwarder on the request path would add its 2 s timeout to pulls; generous bounds for a noisy 2-core box.
      assert.ok(ratio50 < 1.5, `median pull with a dead forwarder took x${ratio50.toFixed(2)}`);
      assert.ok(ratio90 < 2, `p90 pull with a dead forwarder took x${ratio90.toFixed(2)}`);
      const sink = forwarding.obs.audit.sinks.find((s) => s.name === 'http') as HttpSink;
      assert.equal(sink.sent, 0, 'nothing was delivered: the endpoint really was dead');
      assert.ok(sink.dropped > 0 && sink.queued <= 500, `bounded queue: ${sink.queued} queued, ${sink.dropped} dropped`);
      const m = await (await fetch(`${forwarding.url}/metrics`)).text();
      assert.match(m, new RegExp(`^regway_audit_dropped_lines_total\\{sink="http"\\} ${sink.dropped}$`, 'm'));
      // The file still has every line.
      assert.equal(auditLines(forwarding.auditPath).filter((l) => l.event.action === 'image-pull').length, 1 + N);
    });
  });
});
