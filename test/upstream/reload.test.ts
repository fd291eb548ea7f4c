// Hot reload of a running `regway serve` process through a real SIGHUP: a valid new config swaps
// the upstreams, an invalid one is refused with a clear log line and the old one keeps serving.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { stringify, parse } from 'yaml';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startInstance } from '../helpers/instance.js';
import { waitFor } from '../helpers/wait.js';

const REG = 'registry.reload.test';

async function waitForLog(file: string, re: RegExp, ms = 10_000): Promise<void> {
  await waitFor(() => re.test(readFileSync(file, 'utf8')), `a log line matching ${re}`, ms, { seen: () => readFileSync(file, 'utf8').slice(-2000) });
}

/** A `regway serve` process on the blue registry, and the green one to switch to. */
async function blueGreen(extra: Record<string, unknown> = {}) {
  const [blue, green] = await Promise.all([startDistribution(), startDistribution()]);
  const imgBlue = await pushImage(blue.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const imgGreen = await pushImage(green.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const inst = await startInstance({ ...extra, registries: { [REG]: { upstreams: [{ url: blue.url }] } }, cache: { tagTtl: '0s' }, log: { level: 'info' } });
  return {
    inst, imgBlue, imgGreen,
    /** The digest the gateway serves for the tag now (tagTtl 0: every request asks the upstream). */
    digest: async () => {
      const r = await request(`${inst.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: imgBlue.mediaType } });
      await r.body.dump();
      return r.headers['docker-content-digest'];
    },
    /** The config file's text with the registry pointed at green. */
    greenConfig: () => {
      const cfg = parse(readFileSync(inst.configFile, 'utf8'));
      cfg.registries[REG].upstreams = [{ url: green.url }];
      return stringify(cfg);
    },
    stop: async () => { await inst.stop(); await blue.stop(); await green.stop(); },
  };
}

it('SIGHUP swaps upstreams; an invalid config is refused and the old one stays', async () => {
  const t = await blueGreen();
  try {
    assert.equal(await t.digest(), t.imgBlue.manifestDigest);
    writeFileSync(t.inst.configFile, t.greenConfig());
    t.inst.signal('SIGHUP');
    await waitForLog(t.inst.logFile, /configuration reloaded/);
    assert.equal(await t.digest(), t.imgGreen.manifestDigest, 'new pulls use the new upstream');

    writeFileSync(t.inst.configFile, 'registries: { bad: { upstreams: [{ url: "ftp://x" }] } }\n');
    t.inst.signal('SIGHUP');
    await waitForLog(t.inst.logFile, /configuration reload refused/);
    assert.match(readFileSync(t.inst.logFile, 'utf8'), /upstreams\.0\.url/, 'the refusal names the field');
    assert.equal(await t.digest(), t.imgGreen.manifestDigest, 'the running configuration keeps serving');
  } finally { await t.stop(); }
});

it('with watchConfig, saving the file (even by rename, as editors do) reloads it', async () => {
  const t = await blueGreen({ watchConfig: true });
  try {
    assert.equal(await t.digest(), t.imgBlue.manifestDigest);
    writeFileSync(`${t.inst.configFile}.tmp`, t.greenConfig());
    renameSync(`${t.inst.configFile}.tmp`, t.inst.configFile);
    await waitForLog(t.inst.logFile, /configuration reloaded/);
    assert.equal(await t.digest(), t.imgGreen.manifestDigest);
  } finally { await t.stop(); }
});
