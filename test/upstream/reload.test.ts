// Hot reload of a running `regway serve` process through a real SIGHUP: a valid new config swaps
// the upstreams, an invalid one is refused with a clear log line and the old one keeps serving.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify, parse } from 'yaml';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startInstance } from '../helpers/instance.js';

const REG = 'registry.reload.test';

async function waitForLog(file: string, re: RegExp, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(readFileSync(file, 'utf8'))) {
    if (Date.now() > end) throw new Error(`log never matched ${re}:\n${readFileSync(file, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('SIGHUP swaps upstreams; an invalid config is refused and the old one stays', async () => {
  const [blue, green] = await Promise.all([startDistribution(), startDistribution()]);
  const imgBlue = await pushImage(blue.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const imgGreen = await pushImage(green.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const inst = await startInstance({ registries: { [REG]: { upstreams: [{ url: blue.url }] }, }, cache: { tagTtl: '0s' }, log: { level: 'info' } });
  const digest = async () => {
    const r = await request(`${inst.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: imgBlue.mediaType } });
    await r.body.dump();
    return r.headers['docker-content-digest'];
  };
  try {
    assert.equal(await digest(), imgBlue.manifestDigest);
    const cfg = parse(readFileSync(inst.configFile, 'utf8'));
    cfg.registries[REG].upstreams = [{ url: green.url }];
    writeFileSync(inst.configFile, stringify(cfg));
    inst.signal('SIGHUP');
    await waitForLog(inst.logFile, /configuration reloaded/);
    assert.equal(await digest(), imgGreen.manifestDigest, 'new pulls use the new upstream');

    writeFileSync(inst.configFile, 'registries: { bad: { upstreams: [{ url: "ftp://x" }] } }\n');
    inst.signal('SIGHUP');
    await waitForLog(inst.logFile, /configuration reload refused/);
    assert.match(readFileSync(inst.logFile, 'utf8'), /upstreams\.0\.url/, 'the refusal names the field');
    assert.equal(await digest(), imgGreen.manifestDigest, 'the running configuration keeps serving');
  } finally { await inst.stop(); await blue.stop(); await green.stop(); }
});

it('with watchConfig, saving the file (even by rename, as editors do) reloads it', async () => {
  const [blue, green] = await Promise.all([startDistribution(), startDistribution()]);
  const imgBlue = await pushImage(blue.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const imgGreen = await pushImage(green.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  const inst = await startInstance({ watchConfig: true, registries: { [REG]: { upstreams: [{ url: blue.url }] } }, cache: { tagTtl: '0s' }, log: { level: 'info' } });
  const digest = async () => {
    const r = await request(`${inst.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: imgBlue.mediaType } });
    await r.body.dump();
    return r.headers['docker-content-digest'];
  };
  try {
    assert.equal(await digest(), imgBlue.manifestDigest);
    const cfg = parse(readFileSync(inst.configFile, 'utf8'));
    cfg.registries[REG].upstreams = [{ url: green.url }];
    const { renameSync } = await import('node:fs');
    writeFileSync(`${inst.configFile}.tmp`, stringify(cfg));
    renameSync(`${inst.configFile}.tmp`, inst.configFile);
    await waitForLog(inst.logFile, /configuration reloaded/);
    assert.equal(await digest(), imgGreen.manifestDigest);
  } finally { await inst.stop(); await blue.stop(); await green.stop(); }
});

