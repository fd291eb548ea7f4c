// The SLO against a ratio computed by hand: good pulls, pulls of a registry whose only upstream is
// dead, pulls whose manifest is cached but whose layers cannot be fetched (the upstream was stopped
// mid-way), and client 404s (not failures). Then `regway slo` (table and --json) reads it, and a
// restart on the same storage keeps the history.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { registerSlo } from '../../src/cli/slo.js';
import type { SloReport } from '../../src/obs/slo.js';
import { startObsGateway, scriptedPull, origin, type ObsGateway } from './setup.js';

async function cli(args: string[]): Promise<{ out: string; exitCode: number }> {
  const program = new Command('regway').exitOverride();
  registerSlo(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  // Only the command's text: the test runner's own (binary) reporting must still go through.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk === 'string') { out += chunk; return true; }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  const before = process.exitCode;
  try { await program.parseAsync(['node', 'regway', ...args]); } finally { process.stdout.write = write; }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { out, exitCode };
}

describe('SLO ratio equals the one computed by hand', () => {
  let good: Distribution;
  let flaky: Distribution;
  let gw: ObsGateway;
  let storage: string;
  const G = 20, WARM = 1, LAYERFAIL = 4, DEAD = 5, NOTFOUND = 3;
  const PULLS = G + WARM + LAYERFAIL + DEAD + NOTFOUND;
  const FAILED = LAYERFAIL + DEAD;

  before(async () => {
    good = await startDistribution();
    flaky = await startDistribution();
    await pushImage(good.url, 'team/app', 'v1', { layers: 2, layerSize: 2048 });
    await pushImage(flaky.url, 'team/lib', 'v1', { layers: 2, layerSize: 2048 });
    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    storage = makeTempDir('obs-slo');
    gw = await startObsGateway({ 'good.example': origin(good.url), 'flaky.example': origin(flaky.url), 'dead.example': origin(dead) },
      { slo: { successTarget: 99.95, latencyTarget: '500ms' } }, storage);
  });
  after(async () => { await gw?.stop(); await good?.stop(); await flaky?.stop(); if (storage) removeTempDir(storage); });

  it('counts pulls and failures as defined', async () => {
    for (let i = 0; i < G; i++) assert.deepEqual(await scriptedPull(gw.url, 'good.example/team/app', 'v1'), { status: 200, blobsOk: true });
    // Warm the tag (manifest only: a successful pull as far as the gateway can tell), then lose the upstream.
    const warm = await fetch(`${gw.url}/v2/flaky.example/team/lib/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(warm.status, 200); await warm.arrayBuffer();
    await flaky.stop();
    for (let i = 0; i < LAYERFAIL; i++) {
      const r = await scriptedPull(gw.url, 'flaky.example/team/lib', 'v1');
      assert.equal(r.status, 200, 'manifest from cache');
      assert.equal(r.blobsOk, false, 'layers cannot be fetched');
    }
    for (let i = 0; i < DEAD; i++) assert.equal((await scriptedPull(gw.url, 'dead.example/team/x', 'v1')).status, 502);
    for (let i = 0; i < NOTFOUND; i++) assert.equal((await scriptedPull(gw.url, 'good.example/team/app', 'nope')).status, 404);

    const r = await (await fetch(`${gw.url}/-/slo`)).json() as SloReport;
    for (const w of r.windows) {
      assert.equal(w.pulls, PULLS, `${w.window} pulls`);
      assert.equal(w.failed, FAILED, `${w.window} failed`);
      assert.equal(w.successPercent, (100 * (PULLS - FAILED)) / PULLS, `${w.window}: ${PULLS - FAILED}/${PULLS}`);
      assert.equal(w.met.success, false);
      assert.ok(Math.abs(w.errorBudget.remaining - (1 - FAILED / (PULLS * 0.0005))) < 1e-9);
      // Latency samples: every pull whose manifest request did not fail (layer failures come later).
      assert.equal(w.latencyMs.samples, PULLS - DEAD);
      assert.ok(w.latencyMs.mean! > 0 && w.latencyMs.p50! <= w.latencyMs.p99!);
    }
    const m = await (await fetch(`${gw.url}/metrics`)).text();
    const sum = (re: RegExp) => [...m.matchAll(re)].reduce((s, x) => s + Number(x[1]), 0);
    assert.equal(sum(/^regway_pulls_total\{[^}]*\} (\d+)$/gm), PULLS);
    assert.equal(sum(/^regway_pull_failures_total\{[^}]*\} (\d+)$/gm), FAILED);
    assert.equal(sum(/^regway_pulls_total\{[^}]*outcome="client_error"\} (\d+)$/gm), NOTFOUND);
  });

  it('regway slo prints the same numbers (table and --json) and --check fails on a missed target', async (t) => {
    const json = await cli(['slo', '--url', gw.url, '--json']);
    const r = JSON.parse(json.out) as SloReport;
    assert.equal(r.windows[0]!.pulls, PULLS);
    const table = await cli(['slo', '--url', gw.url]);
    for (const l of table.out.trimEnd().split('\n')) t.diagnostic(l);
    assert.match(table.out, /targets: 99\.95 % of pulls succeed, mean pull latency <= 500 ms/);
    const pct = ((100 * (PULLS - FAILED)) / PULLS).toFixed(3);
    for (const w of ['1h', '24h', '30d']) assert.match(table.out, new RegExp(`^${w}\\s+${PULLS}\\s+${FAILED}\\s+${pct.replace('.', '\\.')} %\\s+✗`, 'm'));
    assert.equal((await cli(['slo', '--url', gw.url, '--check'])).exitCode, 1);
    await assert.rejects(cli(['slo', '--url', 'http://127.0.0.1:1']), /cannot reach the gateway/);
  });

  it('the SLO history survives a restart (persisted under the storage dir)', async () => {
    const beforeRestart = await (await fetch(`${gw.url}/-/slo`)).json() as SloReport;
    await gw.stop();
    gw = await startObsGateway({ 'good.example': origin(good.url) }, {}, storage);
    const afterRestart = await (await fetch(`${gw.url}/-/slo`)).json() as SloReport;
    assert.deepEqual(afterRestart.windows.map((w) => [w.pulls, w.failed, w.latencyMs.samples]), beforeRestart.windows.map((w) => [w.pulls, w.failed, w.latencyMs.samples]));
    assert.equal(afterRestart.windows[0]!.pulls, PULLS);
  });
});
