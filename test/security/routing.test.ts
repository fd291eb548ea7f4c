// Authorization sees the repository a request is routed to (else one name form could read what another is denied):
// containerd's ?ns=, a registry host as the first path segment and the default registry with or
// without library/ are one name for the access rules, for Basic, for tokens and in challenges.
// Real distribution upstreams; real containerd for the ns= forms. Each probe here was run against
// the code before the fix: the ns= bypasses answered 200, containerd's own requests 401/403.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startHostedGateway, type HostedGateway } from '../hosted/gateway.js';
import { USERS, basic, writeHtpasswd } from '../auth/fixtures.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { startContainerd, writeHostsToml, ctrPull, ctrPullRaw, type Containerd } from '../helpers/clients.js';

const PRIV = 'priv.test';

describe('authorization on the routed repository', () => {
  let pub: Distribution;
  let priv: Distribution;
  let gw: HostedGateway;
  let dir: string;
  let pubImg: PushedImage;
  let secret: PushedImage;
  let xy: PushedImage;

  const call = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const r = await request(`${gw.url}${path}`, { method: method as 'GET', headers });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, headers: r.headers, body, code: () => (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors[0]!.code };
  };
  const token = async (scope: string, auth?: string) => {
    const r = await call(`/token?service=regway&scope=${encodeURIComponent(scope)}`, auth ? { authorization: auth } : {});
    assert.equal(r.status, 200, r.body.toString());
    return (JSON.parse(r.body.toString()) as { token: string }).token;
  };
  const accessOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).access as { name: string; actions: string[] }[];

  before(async () => {
    [pub, priv] = await Promise.all([startDistribution(), startDistribution()]);
    pubImg = await pushImage(pub.url, 'library/public1', 'v1', { layers: 1, layerSize: 2000 });
    // The private registry holds an image under the same path: what the ns= bypass reached.
    secret = await pushImage(priv.url, 'library/public1', 'v1', { layers: 1, layerSize: 2000 });
    xy = await pushImage(priv.url, 'x/y', 'v1', { layers: 1, layerSize: 2000 });
    dir = makeTempDir('routing-authz');
    gw = await startHostedGateway({
      config: {
        registries: { 'docker.io': { upstreams: [{ url: pub.url }] }, [PRIV]: { upstreams: [{ url: priv.url }] } },
        hosted: { repositories: ['users/**'] },
        auth: {
          htpasswd: await writeHtpasswd(dir),
          access: [
            { repositories: ['library/public*'], anonymous: true, actions: ['pull'] },
            { repositories: [`${PRIV}/**`], users: ['alice'], actions: ['pull'] },
            { repositories: ['users/{user}/**'], users: ['*'], actions: ['*'] },
          ],
        },
      },
    });
  });
  after(async () => { await gw?.stop(); await pub?.stop(); await priv?.stop(); if (dir) removeTempDir(dir); });

  it('?ns= cannot lift a public name into a registry only alice may pull (manifests, blobs, host paths)', async () => {
    const probes = [
      `/v2/library/public1/manifests/v1?ns=${PRIV}`,
      `/v2/library/public1/manifests/${secret.manifestDigest}?ns=${PRIV}`,
      `/v2/library/public1/blobs/${secret.layers[0]!.digest}?ns=${PRIV}`,
      `/v2/public1/manifests/v1?ns=${PRIV}`,
      `/v2/docker.io/library/public1/manifests/v1?ns=${PRIV}`,
      `/v2/${PRIV}/library/public1/manifests/v1`,
      `/v2/library/public1/tags/list?ns=${PRIV}`,
    ];
    for (const p of probes) {
      const r = await call(p, { accept: pubImg.mediaType });
      assert.equal(r.status, 401, `${p} answered ${r.status}`);
      assert.equal(r.code(), 'UNAUTHORIZED');
    }
    // The challenge names the routed repository, so a token for it is what a client asks for.
    const r = await call(`/v2/library/public1/manifests/v1?ns=${PRIV}`);
    assert.match(String(r.headers['www-authenticate']), new RegExp(`scope="repository:${PRIV}/library/public1:pull"`));
    // The public image itself is still public, in every addressing form of it.
    for (const p of ['/v2/library/public1/manifests/v1', '/v2/public1/manifests/v1', '/v2/docker.io/library/public1/manifests/v1', '/v2/library/public1/manifests/v1?ns=docker.io']) {
      const ok = await call(p, { accept: pubImg.mediaType });
      assert.equal(ok.status, 200, p);
      assert.equal(ok.headers['docker-content-digest'], pubImg.manifestDigest, p);
    }
  });

  it("an anonymous token for library/public1 does not open the same path in another registry", async () => {
    const t = await token('repository:library/public1:pull');
    assert.deepEqual(accessOf(t)[0]!.actions, ['pull']);
    const bearer = { authorization: `Bearer ${t}`, accept: pubImg.mediaType };
    assert.equal((await call('/v2/library/public1/manifests/v1', bearer)).status, 200);
    assert.equal((await call('/v2/docker.io/library/public1/manifests/v1', bearer)).status, 200, 'the token names docker.io/library/public1, whatever form');
    const denied = await call(`/v2/library/public1/manifests/v1?ns=${PRIV}`, bearer);
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers['www-authenticate']), /error="insufficient_scope"/);
    assert.equal((await call(`/v2/library/public1/blobs/${secret.layers[0]!.digest}?ns=${PRIV}`, bearer)).status, 401);
  });

  it('the other direction: rules written with a registry host allow containerd\'s ns= requests and every other form', async () => {
    const alice = { authorization: basic('alice', USERS.alice), accept: xy.mediaType };
    for (const p of [`/v2/x/y/manifests/v1?ns=${PRIV}`, `/v2/${PRIV}/x/y/manifests/v1`]) {
      const r = await call(p, alice);
      assert.equal(r.status, 200, `${p}: ${r.body.toString()}`);
      assert.equal(r.headers['docker-content-digest'], xy.manifestDigest);
    }
    const t = await token(`repository:${PRIV}/x/y:pull`, basic('alice', USERS.alice));
    assert.equal((await call(`/v2/x/y/manifests/v1?ns=${PRIV}`, { authorization: `Bearer ${t}`, accept: xy.mediaType })).status, 200);
    // bob has no rule for the private registry.
    assert.equal((await call(`/v2/x/y/manifests/v1?ns=${PRIV}`, { authorization: basic('bob', USERS.bob) })).status, 403);
  });

  it('a token scope with dot segments is granted nothing (users/bob/../alice/x)', async () => {
    const t = await token('repository:users/bob/../alice/x:push,pull', basic('bob', USERS.bob));
    assert.deepEqual(accessOf(t)[0]!.actions, []);
    const mine = await token('repository:users/bob/x:push,pull', basic('bob', USERS.bob));
    assert.deepEqual(accessOf(mine)[0]!.actions.sort(), ['pull', 'push']);
  });

  it('a repeated ns parameter is refused before routing (two readers could pick different registries)', async () => {
    const r = await call(`/v2/library/public1/manifests/v1?ns=docker.io&ns=${PRIV}`);
    assert.equal(r.status, 400);
    assert.equal(r.code(), 'NAME_INVALID');
  });

  describe('containerd (CRI) through the gateway, ns= on every request', () => {
    let c: Containerd;
    before(async () => { c = await startContainerd(); });
    after(async () => { await c?.stop(); });

    it('alice pulls priv.test/x/y with a rule written as priv.test/**; without credentials the pull is refused', async () => {
      const hosts = makeTempDir('hosts');
      try {
        writeHostsToml(hosts, PRIV, { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
        assert.equal(await ctrPull(c, `${PRIV}/x/y:v1`, hosts, { user: { user: 'alice', password: USERS.alice } }), xy.manifestDigest);
        const anon = await ctrPullRaw(c, `${PRIV}/library/public1:v1`, hosts);
        assert.notEqual(anon.code, 0, 'the private copy of library/public1 must not be pullable anonymously');
        writeHostsToml(hosts, 'docker.io', { server: 'http://127.0.0.1:1', mirrors: [{ url: gw.url, capabilities: ['pull', 'resolve'] }] });
        assert.equal(await ctrPull(c, 'docker.io/library/public1:v1', hosts), pubImg.manifestDigest, 'the public image, anonymously');
      } finally { removeTempDir(hosts); }
    });
  });
});
