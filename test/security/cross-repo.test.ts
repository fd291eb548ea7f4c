// No reads across repository boundaries through the cache: a blob or manifest cached for one
// repository is served to another only when that repository's upstream confirms it holds it.
// Before the fix, an upstream that could not answer (down, or a closed port) turned every cached
// digest into a "stale" answer for any repository: anonymous callers allowed to pull any name of
// such a registry read alice's private layers and manifests (both probes answered 200).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, sha256, type PushedImage } from '../helpers/images.js';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';
import { USERS, basic, writeHtpasswd } from '../auth/fixtures.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';

const PRIV = 'priv.test';
const DOWN = 'down.test';

describe('cached content stays inside the repositories that hold it', () => {
  let priv: Distribution;
  let gw: HostedGateway;
  let dir: string;
  let secret: PushedImage;
  const alice = { authorization: basic('alice', USERS.alice) };

  const call = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const r = await request(`${gw.url}${path}`, { method: method as 'GET', headers });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, headers: r.headers, body };
  };

  before(async () => {
    priv = await startDistribution();
    secret = await pushImage(priv.url, 'secret/app', 'v1', { layers: 1, layerSize: 3000 });
    await pushImage(priv.url, 'public/app', 'v1', { layers: 1, layerSize: 1000 });
    dir = makeTempDir('cross-repo');
    gw = await startHostedGateway({
      config: {
        registries: {
          [PRIV]: { upstreams: [{ url: priv.url }] },
          [DOWN]: { upstreams: [{ url: 'http://127.0.0.1:1', timeouts: { connect: '1s' } }] },
        },
        hosted: { repositories: ['local/**'] },
        auth: {
          htpasswd: await writeHtpasswd(dir),
          access: [
            { repositories: [`${PRIV}/**`], users: ['alice'], actions: ['pull'] },
            { repositories: [`${PRIV}/public/**`, `${DOWN}/**`], anonymous: true, actions: ['pull'] },
          ],
        },
      },
    });
    // alice pulls her private image: its manifest and layer are now in the cache.
    const m = await call(`/v2/${PRIV}/secret/app/manifests/v1`, { ...alice, accept: secret.mediaType });
    assert.equal(m.status, 200);
    const b = await call(`/v2/${PRIV}/secret/app/blobs/${secret.layers[0]!.digest}`, alice);
    assert.equal(sha256(b.body), secret.layers[0]!.digest);
  });
  after(async () => { await gw?.stop(); await priv?.stop(); if (dir) removeTempDir(dir); });

  it('a registry whose upstream cannot answer does not serve other repositories\' cached digests', async () => {
    for (const method of ['GET', 'HEAD']) {
      const blob = await call(`/v2/${DOWN}/any/thing/blobs/${secret.layers[0]!.digest}`, {}, method);
      assert.equal(blob.status, 502, `${method} blob: ${blob.status}`);
      assert.ok(!blob.body.includes(secret.layers[0]!.bytes!.subarray(0, 64)));
      const man = await call(`/v2/${DOWN}/any/thing/manifests/${secret.manifestDigest}`, { accept: secret.mediaType }, method);
      assert.equal(man.status, 502, `${method} manifest: ${man.status}`);
      assert.ok(!man.body.toString().includes(secret.layers[0]!.digest), 'the private manifest never leaks');
    }
  });

  it('the same registry, another repository, upstream down: not served either; alice still gets hers (linked)', async () => {
    await priv.stop();
    const blob = await call(`/v2/${PRIV}/public/app/blobs/${secret.layers[0]!.digest}`);
    assert.equal(blob.status, 502);
    const man = await call(`/v2/${PRIV}/public/app/manifests/${secret.manifestDigest}`, { accept: secret.mediaType });
    assert.equal(man.status, 502);
    const mine = await call(`/v2/${PRIV}/secret/app/blobs/${secret.layers[0]!.digest}`, alice);
    assert.equal(mine.status, 200);
    assert.equal(sha256(mine.body), secret.layers[0]!.digest);
    const tag = await call(`/v2/${PRIV}/secret/app/manifests/v1`, { ...alice, accept: secret.mediaType });
    assert.equal(tag.headers['docker-content-digest'], secret.manifestDigest, 'a tag the repository holds is still served (stale within maxStale)');
  });
});
