// A policy change by SIGHUP applies to the next pull: a running `regway serve` refuses an unsigned
// image, the policy turns to audit mode by SIGHUP and the same pull is served, then a new key
// makes the image signed by it pass under enforce again (verdicts of the old policy are not reused).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { request } from 'undici';
import { startInstance } from '../helpers/instance.js';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { cosignSign, makeKey, writePublicKey } from '../helpers/cosign.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

it('SIGHUP: a policy change applies to the next pull', async () => {
  const dir = makeTempDir('policy-reload');
  const up = await startDistribution();
  const first = makeKey();
  const second = makeKey();
  const img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 1000 });
  await cosignSign(up.url, 'team/app', img.manifestDigest, second, { dockerReference: 'registry.example.com/team/app' });
  const inst = await startInstance({
    registries: { 'registry.example.com': { upstreams: [{ url: up.url }] } },
    policies: [{ name: 'team', repositories: ['registry.example.com/team/**'], keys: [{ file: writePublicKey(dir, 'first', first) }] }],
    log: { level: 'info' },
  });
  const pull = async () => {
    const r = await request(`${inst.url}/v2/registry.example.com/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
    const body = await r.body.text();
    return { status: r.statusCode, reason: r.statusCode === 403 ? JSON.parse(body).errors[0].detail.reason : undefined };
  };
  const reload = async (edit: (cfg: Record<string, any>) => void) => {
    const cfg = parse(readFileSync(inst.configFile, 'utf8')) as Record<string, any>;
    edit(cfg);
    writeFileSync(inst.configFile, stringify(cfg));
    const at = readFileSync(inst.logFile, 'utf8').length;
    inst.signal('SIGHUP');
    const line = await waitFor(
      () =>
        readFileSync(inst.logFile, 'utf8')
          .slice(at)
          .split('\n')
          .find((l) => /configuration reloaded|reload refused/.test(l)),
      'the reload log line',
      15_000,
    );
    return JSON.parse(line) as { changed: string[] };
  };
  try {
    assert.deepEqual(await pull(), { status: 403, reason: 'unknown-key' }, 'signed by a key the policy does not trust');
    assert.deepEqual(
      (
        await reload((cfg) => {
          cfg.policies[0].mode = 'audit';
        })
      ).changed,
      ['policies'],
    );
    assert.deepEqual(await pull(), { status: 200, reason: undefined }, 'audit mode serves it');
    await reload((cfg) => {
      cfg.policies[0].mode = 'enforce';
      cfg.policies[0].keys = [{ file: writePublicKey(dir, 'second', second) }];
    });
    assert.deepEqual(await pull(), { status: 200, reason: undefined }, 'the new key verifies it');
    await reload((cfg) => {
      cfg.policies[0].keys = [{ file: writePublicKey(dir, 'first2', first) }];
    });
    assert.deepEqual(await pull(), { status: 403, reason: 'unknown-key' }, 'the cached allow of the old policy is not reused');
  } finally {
    await inst.stop();
    await up.stop();
    removeTempDir(dir);
  }
});
