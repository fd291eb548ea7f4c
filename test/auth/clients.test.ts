// Real clients against a private regway: docker login/push/pull (dockerd), podman login/push/pull,
// skopeo copy with --dest-creds; and a pull-only user's push failing in each.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { createPodman, skopeoCopy, skopeoInspectDigest, startDockerd, dockerLogin, dockerPull, type Dockerd, type Podman } from '../helpers/clients.js';
import { removeTempDir } from '../helpers/proc.js';
import { USERS, startAuthGateway } from './fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';

const alice = { user: 'alice', password: USERS.alice };
const carol = { user: 'carol', password: USERS.carol };

describe('docker, podman and skopeo sign in, push and pull through a private regway', () => {
  let gw: HostedGateway & { htpasswd: string; dir: string };
  let base: PushedImage;
  before(async () => {
    gw = await startAuthGateway();
    base = await pushImage(gw.url, 'local/base', 'v1', { layers: 2, layerSize: 300_000, format: 'docker', auth: alice });
  });
  after(async () => { await gw?.stop(); removeTempDir(gw.dir); });

  it('skopeo copy --dest-creds pushes; a pull-only user cannot', async () => {
    const ok = await skopeoCopy(`docker://${gw.host}/local/base:v1`, `docker://${gw.host}/local/skopeo:v1`, { srcCreds: alice, destCreds: alice });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await skopeoInspectDigest(`docker://${gw.host}/local/skopeo:v1`, { creds: carol }), base.manifestDigest);
    const denied = await skopeoCopy(`docker://${gw.host}/local/base:v1`, `docker://${gw.host}/local/skopeo-carol:v1`, { srcCreds: carol, destCreds: carol });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied|unauthorized|403/i);
    const anon = await skopeoCopy(`docker://${gw.host}/local/base:v1`, 'oci:/tmp/never');
    assert.notEqual(anon.code, 0, 'no anonymous pull of local/**');
  });

  describe('podman', () => {
    let p: Podman;
    before(() => { p = createPodman({ registriesConf: `[[registry]]\nlocation = "${gw.host}"\ninsecure = true\n` }); });
    after(() => p?.cleanup());

    it('podman login, pull, tag, push, and pull back', async () => {
      const bad = await p.run(['login', '--tls-verify=false', '-u', 'alice', '-p', 'wrong-password', gw.host]);
      assert.notEqual(bad.code, 0, 'a wrong password fails login');
      const login = await p.run(['login', '--tls-verify=false', '-u', 'alice', '-p', USERS.alice, gw.host]);
      assert.equal(login.code, 0, login.stderr);
      const digest = await p.pull(`${gw.host}/local/base:v1`, { tlsVerify: false });
      assert.equal(digest, base.manifestDigest);
      assert.equal((await p.run(['tag', `${gw.host}/local/base:v1`, `${gw.host}/local/podman:v1`])).code, 0);
      const push = await p.run(['push', '--tls-verify=false', `${gw.host}/local/podman:v1`]);
      assert.equal(push.code, 0, push.stderr);
      assert.ok(await skopeoInspectDigest(`docker://${gw.host}/local/podman:v1`, { creds: alice }));
      await p.run(['logout', gw.host]);
      const asCarol = await p.run(['login', '--tls-verify=false', '-u', 'carol', '-p', USERS.carol, gw.host]);
      assert.equal(asCarol.code, 0);
      const denied = await p.run(['push', '--tls-verify=false', `${gw.host}/local/podman:v1`, `docker://${gw.host}/local/podman-carol:v1`]);
      assert.notEqual(denied.code, 0);
    });
  });

  describe('docker', () => {
    let d: Dockerd;
    before(async () => { d = await startDockerd({ insecureRegistries: [gw.host] }); });
    after(async () => { await d?.stop(); });

    it('docker login (token flow), pull, tag, push, remove, pull again', async () => {
      const bad = await dockerLogin(d, gw.host, { user: 'alice', password: 'wrong' });
      assert.notEqual(bad.code, 0, 'docker login verifies the password');
      const login = await dockerLogin(d, gw.host, alice);
      assert.equal(login.code, 0, login.stderr);
      assert.equal(await dockerPull(d, `${gw.host}/local/base:v1`), base.manifestDigest);
      assert.equal((await d.docker(['tag', `${gw.host}/local/base:v1`, `${gw.host}/local/docker:v1`])).code, 0);
      const push = await d.docker(['push', `${gw.host}/local/docker:v1`]);
      assert.equal(push.code, 0, push.stdout + push.stderr);
      const pushedDigest = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)?.[1];
      assert.ok(pushedDigest, push.stdout);
      assert.equal((await d.docker(['rmi', `${gw.host}/local/docker:v1`, `${gw.host}/local/base:v1`])).code, 0);
      assert.equal(await dockerPull(d, `${gw.host}/local/docker:v1`), pushedDigest);
      assert.equal(await skopeoInspectDigest(`docker://${gw.host}/local/docker:v1`, { creds: carol }), pushedDigest);
      const asCarol = await dockerLogin(d, gw.host, carol);
      assert.equal(asCarol.code, 0);
      await d.docker(['tag', `${gw.host}/local/docker:v1`, `${gw.host}/local/docker-carol:v1`]);
      const denied = await d.docker(['push', `${gw.host}/local/docker-carol:v1`]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stdout + denied.stderr, /denied|unauthorized/i);
    });
  });
});
