// regway's own tools (bench, warm, inspect, doctor, trace) identify themselves (User-Agent
// regway-<tool>/<version>) and the gateway keeps them out of pulls, top lists, alerts and the SLO,
// counting them apart: two benchmark runs must not fire the pulls-per-client alert nor make the
// benchmarked image the top image, and doctor runs during an outage must not spend the error budget.
// The same gateway then serves three ordinary client pulls, which do count: the counters are live.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchPull } from '../../src/diagnose/images/bench-pull.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import { inspectImages } from '../../src/diagnose/images/inspect.js';
import { trace } from '../../src/diagnose/trace/index.js';
import { warm } from '../../src/diagnose/images/warm.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { get, isolated } from '../diagnose/fixtures/assert.js';
import { rmSync } from 'node:fs';
import { auditLines, origin, scriptedPull, startObsGateway, type ObsGateway } from './setup.js';

const REG = 'registry.example.com';

describe("regway's own tools are not pulls", () => {
  let up: Distribution;
  let gw: ObsGateway;
  let tmp: string;
  let stopped = false;
  const json = async (path: string): Promise<any> => (await fetch(`${gw.url}${path}`)).json();

  before(async () => {
    tmp = makeTempDir('obs-tools');
    up = await startDistribution();
    await pushImage(up.url, 'team/app', 'v1', { layers: 2, layerSize: 20_000 });
    await pushImage(up.url, 'team/other', 'v1', { layers: 1, layerSize: 10_000 });
    await pushImage(up.url, 'team/gone', 'v1', { layers: 1, layerSize: 1000 });
    gw = await startObsGateway({ [REG]: origin(up.url) }, { alerts: { rules: { pullsPerClient: { threshold: 2 } } } });
  });
  after(async () => {
    if (gw && !stopped) await gw.stop();
    if (gw) rmSync(gw.storage, { recursive: true, force: true });
    await up?.stop();
    removeTempDir(tmp);
  });

  it('bench, warm, inspect, doctor and trace (also during an outage): no pull, no alert, no SLO sample, no top entry; counted as tools', async () => {
    const b = await benchPull(`${REG}/team/app:v1`, { via: [gw.url], clients: 2, rounds: 2 });
    assert.equal(b.endpoints[0]!.failures, 0, b.endpoints[0]!.errors.join('\n'));
    const b2 = await benchPull(`${REG}/team/app:v1`, { via: [gw.url], clients: 2, rounds: 2 });
    assert.equal(b2.endpoints[0]!.pulls, 4);
    assert.equal((await warm([`${REG}/team/other:v1`], { gateway: gw.url })).failed, 0);
    assert.equal((await inspectImages([`${REG}/team/app:v1`], { via: gw.url })).images[0]!.error, undefined);
    get(await runDoctor(`${REG}/team/app:v1`, { ...isolated(tmp), via: gw.url }), 'MANIFEST_OK');
    // The outage: diagnosing an image the gateway cannot fetch gets 502s, which for a client would be failed pulls.
    await up.stop();
    get(await runDoctor(`${REG}/team/gone:v1`, { ...isolated(tmp), via: gw.url, timeoutMs: 5000 }), 'MANIFEST_FAILED');
    const root = join(tmp, 'node');
    mkdirSync(join(root, 'etc/containerd/certs.d', REG), { recursive: true });
    writeFileSync(join(root, 'etc/containerd/certs.d', REG, 'hosts.toml'), `server = "http://127.0.0.1:1"\n\n[host."${gw.url}"]\n  capabilities = ["pull", "resolve"]\n`);
    const t = await trace(`${REG}/team/gone:v1`, { root, runtimes: ['containerd'], timeoutMs: 3000 });
    assert.equal(t.runtimes[0]!.endpoints[0]!.probe?.status, 502);

    const slo = await json('/-/slo');
    assert.deepEqual(slo.windows.map((w: { pulls: number; failed: number }) => [w.pulls, w.failed]), [[0, 0], [0, 0], [0, 0]], 'no pull, no failure: the error budget is untouched');
    assert.deepEqual((await json('/-/alerts')).alerts, [], 'no alert although bench pulled 10 times from one address (threshold 2)');
    const status = await json('/-/status');
    assert.deepEqual([status.topImages, status.topClients, status.traffic.pulls1h, status.cache.requests1h], [[], [], 0, 0]);
    const tools = Object.fromEntries(status.tools.byTool.map((x: { tool: string; requests: number }) => [x.tool, x.requests]));
    assert.deepEqual(Object.keys(tools).sort(), ['bench', 'doctor', 'inspect', 'trace', 'warm']);
    assert.equal(status.tools.requests1h, Object.values(tools).reduce((a: number, b) => a + (b as number), 0));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^regway_tool_requests_total\{tool="bench",operation="manifest"\} \d+$/m);
    assert.match(metrics, /^regway_tool_requests_total\{tool="doctor",operation="manifest"\} \d+$/m);
    assert.doesNotMatch(metrics, /^regway_pulls_total\{/m);
    assert.doesNotMatch(metrics, /^regway_pull_failures_total\{/m);

    // Ordinary clients on the same gateway still count (the image is cached; the upstream is down).
    for (let i = 0; i < 3; i++) assert.equal((await scriptedPull(gw.url, `${REG}/team/app`, 'v1')).status, 200);
    const after = await json('/-/slo');
    assert.equal(after.windows[0].pulls, 3);
    assert.deepEqual((await json('/-/alerts')).alerts.map((a: { rule: string }) => a.rule), ['pulls-per-client']);
    assert.deepEqual((await json('/-/status')).topImages, [{ image: `${REG}/team/app`, pulls: 3 }]);

    stopped = true;
    await gw.stop({ keep: true });
    const lines = auditLines(gw.auditPath);
    const bench = lines.filter((l) => String(l.user_agent?.original).startsWith('regway-bench/'));
    assert.ok(bench.length > 0, 'tool requests are audited');
    assert.ok(bench.every((l) => l.regway.tool === 'bench' && l.event.action !== 'image-pull'), 'marked as tool traffic, never an image pull');
  });
});
