// warm, bench pull and inspect against a real distribution and an in-process regway gateway, and the CLI around them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex, type PushedImage, type PushedIndex } from '../helpers/images.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';
import { warm } from '../../src/diagnose/images/warm.js';
import { benchPull } from '../../src/diagnose/images/bench-pull.js';
import { inspectImages } from '../../src/diagnose/images/inspect.js';

let dist: Distribution;
let gw: TestGateway;
let single: PushedImage;
let multi: PushedIndex;
let tmp: string;
const ENTRY = new URL('./cli-entry.ts', import.meta.url).pathname;

before(async () => {
  tmp = makeTempDir('diag-images');
  dist = await startDistribution();
  single = await pushImage(dist.url, 'team/api', '2.3.1', { layers: 3, layerSize: 200_000 });
  multi = await pushIndex(
    dist.url,
    'team/multi',
    'latest',
    [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    { layers: 2, layerSize: 100_000 },
  );
  gw = await startGateway({ registries: { [dist.host]: [dist.url] } });
});
after(async () => {
  await gw.stop();
  await dist.stop();
  removeTempDir(tmp);
});

const blobGets = async (): Promise<string[]> => (await dist.accessLog()).filter((l) => l.method === 'GET' && /\/blobs\/sha256:/.test(l.path)).map((l) => l.path.slice(l.path.lastIndexOf('/') + 1));

test('warm fetches every blob of the chosen platforms through the gateway; a later pull is all cache hits', async () => {
  const refs = [`${dist.host}/team/api:2.3.1`, `${dist.host}/team/multi:latest`];
  const r = await warm(refs, { gateway: gw.url, platforms: ['linux/amd64', 'linux/arm64'], concurrency: 2 });
  assert.equal(r.failed, 0, JSON.stringify(r));
  const expected = [single.config.digest, ...single.layers.map((l) => l.digest), ...multi.children.flatMap((c) => [c.config.digest, ...c.layers.map((l) => l.digest)])];
  assert.equal(r.blobs, expected.length);
  assert.deepEqual(r.images[1]!.platforms, ['linux/amd64', 'linux/arm64/v8']);
  assert.deepEqual(
    r.images.map((i) => i.cache),
    [{ miss: 4 }, { miss: 6 }],
  );
  // The registry served exactly these blobs (the gateway fetched them; a retry under load may repeat one).
  const gets = await blobGets();
  assert.deepEqual([...new Set(gets)].sort(), [...expected].sort());

  // The last client can have every byte a moment before the gateway has committed the blob (fsync,
  // rename): a pull in that moment joins the download (coalesced), not the cache. Wait for the commits.
  await gw.inflight.drain(10_000);
  const before = (await dist.accessLog()).length;
  const b = await benchPull(`${dist.host}/team/multi:latest`, { via: [gw.url], clients: 3, rounds: 2, platform: 'linux/arm64' });
  const e = b.endpoints[0]!;
  assert.equal(e.failures, 0, e.errors.join('\n'));
  assert.equal(e.pulls, 6);
  assert.deepEqual(e.cache, { hit: 18 });
  assert.deepEqual(e.warmup, { pulls: 1, failures: 0, cache: { hit: 3 } }, 'the warm-up pull is reported apart, not counted');
  const arm = multi.children[1]!;
  assert.equal(e.bytes, 6 * (arm.config.size + arm.layers.reduce((n, l) => n + (l.bytes?.length ?? 0), 0)));
  const after = (await dist.accessLog()).slice(before);
  assert.deepEqual(
    after.filter((l) => l.path.includes('/blobs/')),
    [],
    'no blob went to the registry',
  );
});

test('bench pull through the gateway and directly: warmed up, alternating order, same bytes, ordered percentiles, spread, digests verified', async () => {
  const b = await benchPull(`${dist.host}/team/api:2.3.1`, { via: [dist.url, gw.url], clients: 4, rounds: 2 });
  assert.deepEqual(
    b.endpoints.map((e) => e.endpoint),
    [dist.url, gw.url],
  );
  // Neither endpoint always goes first: the one that does pays for whatever is still cold.
  assert.deepEqual(b.order, [
    [dist.url, gw.url],
    [gw.url, dist.url],
  ]);
  assert.deepEqual(
    b.endpoints.map((e) => e.rounds.map((r) => r.position)),
    [
      [0, 1],
      [1, 0],
    ],
  );
  for (const e of b.endpoints) {
    assert.equal(e.failures, 0, e.errors.join('\n'));
    assert.equal(e.pulls, 8);
    assert.equal(e.bytes, b.endpoints[0]!.bytes);
    const s = e.pullMs;
    assert.ok(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max, JSON.stringify(s));
    assert.ok(e.bytesPerSecond > 0);
    assert.equal(e.warmup.pulls, 1);
    assert.deepEqual(
      e.rounds.map((r) => r.pulls),
      [4, 4],
    );
    assert.ok(e.spread.min <= e.spread.max && e.spread.min > 0, JSON.stringify(e.spread));
    assert.equal(e.ttfbMs.count, 8 * (2 + 4), 'the warm-up requests are not in the measurements');
  }
  assert.deepEqual(b.endpoints[0]!.cache, {}, 'the registry sends no cache header');
});

test('inspect: platforms, layers, config, findings; direct and through the gateway agree', async () => {
  const r = await inspectImages([`${dist.host}/team/api:2.3.1`, `${dist.host}/team/multi:latest`], { plainHttp: true });
  const [api, m] = r.images;
  assert.equal(api!.digest, single.manifestDigest);
  assert.deepEqual(
    api!.platforms[0]!.layers.map((l) => l.digest),
    single.layers.map((l) => l.digest),
  );
  assert.equal(api!.platforms[0]!.platform, 'linux/amd64');
  assert.deepEqual(
    api!.findings.map((f) => f.code),
    ['NO_ARM64'],
  );
  assert.deepEqual(
    m!.platforms.map((p) => p.platform),
    ['linux/amd64', 'linux/arm64/v8'],
  );
  assert.deepEqual(
    m!.findings.map((f) => f.code),
    ['TAG_LATEST'],
  );
  assert.equal(r.sharing?.images, 2);
  assert.equal(r.sharing?.savedBytes, 0, 'random images share nothing');
  const via = await inspectImages([`${dist.host}/team/api:2.3.1`], { via: gw.url });
  assert.deepEqual(via.images[0]!.platforms, api!.platforms);
});

test('CLI: doctor --json exit codes, warm --from a Kubernetes manifest, bench --json; no progress bars off a terminal', async () => {
  const ok = await run(
    process.execPath,
    ['--import', 'tsx', ENTRY, 'doctor', `http://${dist.host}/team/api:2.3.1`, '--json', '--docker-config', join(tmp, 'x.json'), '--authfile', join(tmp, 'y.json')],
    { timeoutMs: 60_000 },
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).worst, 'info');
  const bad = await run(process.execPath, ['--import', 'tsx', ENTRY, 'doctor', `${dist.host}/team/api:nope`, '--docker-config', join(tmp, 'x.json'), '--authfile', join(tmp, 'y.json')], {
    timeoutMs: 60_000,
  });
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /SCHEME_HTTP_ONLY[\s\S]*fix: [\s\S]*MANIFEST_UNKNOWN/);
  const help = await run(process.execPath, ['--import', 'tsx', ENTRY, 'doctor', '--help'], { timeoutMs: 60_000 });
  assert.match(help.stdout, /Examples:/);

  const manifest = join(tmp, 'deploy.yaml');
  writeFileSync(manifest, `apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ${dist.host}/team/api:2.3.1\n`);
  const w = await run(process.execPath, ['--import', 'tsx', ENTRY, 'warm', '-g', gw.url, '-f', manifest, '--json'], { timeoutMs: 60_000 });
  assert.equal(w.code, 0, w.stderr);
  assert.equal(JSON.parse(w.stdout).images[0].ref, `${dist.host}/team/api:2.3.1`);
  assert.doesNotMatch(w.stderr, /\r/, 'no progress bar when stderr is not a terminal');
  const b = await run(process.execPath, ['--import', 'tsx', ENTRY, 'bench', 'pull', `${dist.host}/team/api:2.3.1`, '--via', gw.url, '-c', '2', '--json'], { timeoutMs: 60_000 });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).endpoints[0].pulls, 2);
});
