// How names reach repositories, through a whole gateway in memory: the addressing forms of one
// Docker Hub repository are one cached repository (one upstream fetch), `?ns=` picks the registry,
// and with auth on a refusal challenges for the routed repository's scope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream } from '../testing/fake-upstream.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';
import { hashPassword } from '../auth/htpasswd.js';

const ACCEPT = { accept: 'application/vnd.oci.image.manifest.v1+json' };
const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

describe('addressing and the auth challenge (unit: memory store, fake upstreams)', () => {
  let hub: FakeUpstream;
  let ghcr: FakeUpstream;
  let open: UnitGateway;
  let guarded: UnitGateway;
  let dir: string;
  before(async () => {
    [hub, ghcr] = await Promise.all([FakeUpstream.start(), FakeUpstream.start()]);
    const registries = { 'docker.io': upstreams([hub.url]), 'ghcr.io': upstreams([ghcr.url]) };
    dir = mkdtempSync(join(tmpdir(), 'regway-unit-auth-'));
    writeFileSync(join(dir, 'htpasswd'), `alice:${await hashPassword('wonderland', 4)}\n`);
    open = await unitGateway({ registries });
    guarded = await unitGateway({ registries, auth: { htpasswd: join(dir, 'htpasswd'), pullThrough: 'authenticated' } });
  });
  after(async () => { await open?.stop(); await guarded?.stop(); await hub?.stop(); await ghcr?.stop(); rmSync(dir, { recursive: true, force: true }); });

  it('alpine, library/alpine, docker.io/library/alpine, index.docker.io/... and ?ns=docker.io are one repository', async () => {
    const img = hub.image('library/alpine', '3.20');
    const forms = [
      '/v2/alpine/manifests/3.20',
      '/v2/library/alpine/manifests/3.20',
      '/v2/docker.io/library/alpine/manifests/3.20',
      '/v2/index.docker.io/library/alpine/manifests/3.20',
      '/v2/alpine/manifests/3.20?ns=docker.io',
      '/v2/library/alpine/manifests/3.20?ns=registry-1.docker.io',
    ];
    for (const [i, url] of forms.entries()) {
      const r = await open.call('GET', url, ACCEPT);
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      assert.equal(r.headers['docker-content-digest'], img.digest, url);
      assert.equal(r.headers['x-regway-cache'], i === 0 ? 'miss' : 'hit', url);
    }
    assert.equal(hub.count('GET', '/v2/library/alpine/manifests/3.20'), 1, 'one upstream fetch for every form');
    const withNs = await open.call('GET', '/v2/alpine/manifests/3.20?ns=docker.io', ACCEPT);
    assert.equal(withNs.headers['oci-namespace'], 'docker.io', 'a mirror request says which namespace it served');
  });

  it('?ns= and a host segment route to that registry, with the name as it is (no library/)', async () => {
    const img = ghcr.image('org/app', 'v1');
    for (const url of ['/v2/org/app/manifests/v1?ns=ghcr.io', '/v2/ghcr.io/org/app/manifests/v1']) {
      const r = await open.call('GET', url, ACCEPT);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['docker-content-digest'], img.digest);
    }
    assert.equal(ghcr.count('GET', '/v2/org/app/manifests/v1'), 1);
    assert.equal(hub.count('GET', '/v2/org/app/manifests/v1'), 0);
  });

  it('a registry that is not configured is NAME_UNKNOWN, never an open proxy', async () => {
    const r = await open.call('GET', '/v2/quay.io/org/app/manifests/v1', ACCEPT);
    assert.equal(r.statusCode, 404);
    assert.equal(JSON.parse(r.body).errors[0].code, 'NAME_UNKNOWN');
    const bad = await open.call('GET', '/v2/org/app/manifests/v1?ns=not_a_host!', ACCEPT);
    assert.equal(bad.statusCode, 400);
    assert.equal(JSON.parse(bad.body).errors[0].code, 'NAME_INVALID');
  });

  it('with auth on, an anonymous pull is challenged for the routed repository', async () => {
    const scopes: [string, string][] = [
      ['/v2/alpine/manifests/3.20', 'repository:docker.io/library/alpine:pull'],
      ['/v2/library/alpine/manifests/3.20', 'repository:docker.io/library/alpine:pull'],
      ['/v2/docker.io/library/alpine/blobs/sha256:' + 'a'.repeat(64), 'repository:docker.io/library/alpine:pull'],
      ['/v2/org/app/manifests/v1?ns=ghcr.io', 'repository:ghcr.io/org/app:pull'],
      ['/v2/ghcr.io/org/app/tags/list', 'repository:ghcr.io/org/app:pull'],
    ];
    for (const [url, scope] of scopes) {
      const r = await guarded.call('GET', url, ACCEPT);
      assert.equal(r.statusCode, 401, url);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="http:\/\/[^"]+\/token",service="regway",scope="([^"]+)"$/, url);
      assert.equal(/scope="([^"]+)"/.exec(String(r.headers['www-authenticate']))![1], scope, url);
    }
    const ping = await guarded.call('GET', '/v2/');
    assert.equal(ping.statusCode, 401);
    assert.doesNotMatch(String(ping.headers['www-authenticate']), /scope=/, 'the ping challenge names no repository');
    assert.equal(hub.count('GET', '/v2/library/alpine/manifests/3.20'), 1, 'refused requests never reach the upstream');
  });

  it('a token for the challenged scope opens that repository and no other', async () => {
    const tok = await guarded.call('GET', '/token?service=regway&scope=repository:alpine:pull', basic('alice', 'wonderland'));
    assert.equal(tok.statusCode, 200, tok.body);
    const bearer = { ...ACCEPT, authorization: `Bearer ${JSON.parse(tok.body).token}` };
    const r = await guarded.call('GET', '/v2/docker.io/library/alpine/manifests/3.20', bearer);
    assert.equal(r.statusCode, 200, r.body);
    const other = await guarded.call('GET', '/v2/org/app/manifests/v1?ns=ghcr.io', bearer);
    assert.equal(other.statusCode, 401);
    assert.match(String(other.headers['www-authenticate']), /scope="repository:ghcr.io\/org\/app:pull",error="insufficient_scope"/);
  });
});
