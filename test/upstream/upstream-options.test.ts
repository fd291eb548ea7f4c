// Per-upstream options against real registries: a mirror under a path prefix, a digest-only mirror
// (resolve: false), and the stale-if-error window (maxStale) running out.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { buildImage, pushBuiltImage, sha256 as sha } from '../helpers/images.js';
import { startGateway } from '../helpers/gateway.js';
import { startNginx } from '../helpers/nginx.js';

const REG = 'registry.options.test';

it('a mirror under a path prefix (https://mirror/dockerhub) is asked at <prefix>/v2/...', async () => {
  const up = await startDistribution();
  const img = buildImage({ layers: 1, layerSize: 1000 });
  await pushBuiltImage(up.url, 'team/app', 'v1', img);
  const front = await startNginx(`location /dockerhub/ { proxy_pass ${up.url}/; } location / { return 404; }`);
  const gw = await startGateway({ registries: { [REG]: [`${front.url}/dockerhub`] } });
  try {
    const r = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
    assert.equal(r.statusCode, 200);
    assert.equal(sha(Buffer.from(await r.body.arrayBuffer())), img.manifestDigest);
    assert.ok(front.accessLog().some((l) => l.startsWith('GET /dockerhub/v2/team/app/manifests/v1 200')), front.accessLog().join('\n'));
  } finally { await gw.stop(); await front.stop(); await up.stop(); }
});

it('a resolve:false mirror serves digests but is never asked for a tag', async () => {
  const [mirror, origin] = await Promise.all([startDistribution(), startDistribution()]);
  const img = buildImage({ layers: 1, layerSize: 1000 });
  await pushBuiltImage(mirror.url, 'team/app', 'v1', img);
  await pushBuiltImage(origin.url, 'team/app', 'v1', img);
  const gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: mirror.url, role: 'mirror', resolve: false }, { url: origin.url, role: 'origin' }] } } });
  try {
    const tag = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
    await tag.body.dump();
    assert.equal(tag.statusCode, 200);
    const layer = await request(`${gw.url}/v2/${REG}/team/app/blobs/${img.layers[0]!.digest}`);
    await layer.body.dump();
    const mirrorLog = await mirror.accessLog();
    const reads = (log: typeof mirrorLog) => log.filter((l) => l.method === 'GET' || l.method === 'HEAD');
    assert.ok(!reads(mirrorLog).some((l) => l.path.endsWith('/manifests/v1')), 'the tag was not resolved on the digest-only mirror');
    assert.ok(reads(mirrorLog).some((l) => l.path.endsWith(img.layers[0]!.digest)), 'the blob came from the mirror');
    assert.ok(reads(await origin.accessLog()).some((l) => l.path.endsWith('/manifests/v1')), 'the origin resolved the tag');
  } finally { await gw.stop(); await mirror.stop(); await origin.stop(); }
});

it('stale-if-error stops once the mapping is older than maxStale', async () => {
  const up = await startDistribution();
  const img = buildImage({ layers: 1, layerSize: 1000 });
  await pushBuiltImage(up.url, 'team/app', 'v1', img);
  const front = await startNginx(`location / { proxy_pass ${up.url}; }`);
  const gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: front.url }], tagTtl: '0s', maxStale: '1500ms' } } });
  const get = () => request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
  try {
    const first = await get();
    await first.body.dump();
    assert.equal(first.statusCode, 200);
    front.kill();
    const stale = await get();
    await stale.body.dump();
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.headers['x-regway-cache'], 'stale');
    assert.match(String(stale.headers.warning), /^299 - "/);
    await new Promise((r) => setTimeout(r, 1700)); // the time is the subject: maxStale (1.5 s) must pass
    const expired = await get();
    await expired.body.dump();
    assert.equal(expired.statusCode, 502, 'too old to serve: the client hears the upstream is unavailable');
  } finally { await gw.stop(); await front.stop(); await up.stop(); }
});

it("Docker Hub's rate-limit headers are recorded per upstream (metrics and status read them)", async () => {
  const up = await startDistribution();
  const img = buildImage({ layers: 1, layerSize: 1000 });
  await pushBuiltImage(up.url, 'team/app', 'v1', img);
  const front = await startNginx(`location / { proxy_pass ${up.url}; add_header ratelimit-limit "100;w=21600" always; add_header ratelimit-remaining "76;w=21600" always; }`);
  const gw = await startGateway({ registries: { [REG]: [front.url] } });
  try {
    const r = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept: img.mediaType } });
    await r.body.dump();
    const h = gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot();
    assert.equal(h.rateLimitRemaining, 76);
    assert.equal(h.rateLimitLimit, 100);
  } finally { await gw.stop(); await front.stop(); await up.stop(); }
});
