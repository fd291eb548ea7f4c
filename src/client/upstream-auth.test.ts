// The gateway as a client of upstreams behind Bearer auth, through a whole gateway in memory: the
// token is fetched for the routed repository's scope with the configured credentials, reused, and
// never sent where it must not go (a redirect to storage, a token realm on another host).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstream } from '../testing/fake-upstream.js';
import { patterned } from '../testing/fake-registry.js';
import { unitGateway, upstreams, type UnitGateway } from '../testing/unit-gateway.js';

const ACCEPT = { accept: 'application/vnd.oci.image.manifest.v1+json' };
const basicOf = (h: unknown) => Buffer.from(String(h).replace(/^Basic /, ''), 'base64').toString('utf8');

describe('upstream auth and redirects (unit: memory store, fake upstreams)', () => {
  let hub: FakeUpstream;
  let storage: FakeUpstream;
  let foreign: FakeUpstream;
  let elsewhere: FakeUpstream;
  let gw: UnitGateway;
  before(async () => {
    [hub, storage, foreign] = await Promise.all([
      FakeUpstream.start({ bearer: { users: { puller: 's3cret' }, service: 'hub' } }),
      FakeUpstream.start(),
      FakeUpstream.start(),
    ]);
    // Its challenge names a token realm on another host (the `foreign` fake).
    elsewhere = await FakeUpstream.start({ bearer: { realm: `${foreign.url}/token` } });
    const creds = { auth: { username: 'puller', password: 's3cret' } };
    gw = await unitGateway({
      registries: {
        'hub.test': upstreams([hub.url], {}, creds),
        'elsewhere.test': upstreams([elsewhere.url], {}, creds),
      },
    });
  });
  after(async () => { await gw?.stop(); await Promise.all([hub, storage, foreign, elsewhere].map((f) => f?.stop())); });

  it('answers the challenge with a token for the repository, fetched with the credentials, then reused', async () => {
    const img = hub.image('team/app', 'v1');
    const r = await gw.call('GET', '/v2/hub.test/team/app/manifests/v1', ACCEPT);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['docker-content-digest'], img.digest);
    assert.equal(hub.tokenRequests.length, 1);
    const t = hub.tokenRequests[0]!;
    const q = new URLSearchParams(t.query);
    assert.equal(q.get('scope'), 'repository:team/app:pull');
    assert.equal(q.get('service'), 'hub');
    assert.equal(basicOf(t.headers.authorization), 'puller:s3cret', 'the configured credentials, to the realm on the upstream host');
    const layer = await gw.call('GET', `/v2/hub.test/team/app/blobs/${img.layers[0]!.digest}`);
    assert.equal(layer.statusCode, 200);
    assert.equal(hub.tokenRequests.length, 1, 'the token is reused for the same scope');
    const last = hub.requests[hub.requests.length - 1]!;
    assert.match(String(last.headers.authorization), /^Bearer /);
  });

  it('follows a blob redirect to storage without sending any credentials there', async () => {
    const bytes = patterned(70_000, 'redirected');
    const digest = hub.blob('team/redirect', bytes);
    storage.blob('anything', bytes);
    hub.script({ method: 'GET', path: `/v2/team/redirect/blobs/${digest}`, fault: { redirect: `${storage.url}/storage/${digest}` } });
    const r = await gw.call('GET', `/v2/hub.test/team/redirect/blobs/${digest}`);
    assert.equal(r.statusCode, 200);
    assert.ok(r.rawPayload.equals(bytes), 'r.rawPayload.equals(bytes)');
    const at = storage.requests.filter((q) => q.path === `/storage/${digest}`);
    assert.equal(at.length, 1, 'the redirect was followed');
    assert.equal(at[0]!.headers.authorization, undefined, 'no credentials follow a redirect');
  });

  it('a token realm on another host gets no credentials', async () => {
    elsewhere.image('team/other', 'v1');
    await gw.call('GET', '/v2/elsewhere.test/team/other/manifests/v1', ACCEPT);
    assert.ok(foreign.tokenRequests.length >= 1, 'the foreign realm was asked for a token');
    for (const t of foreign.tokenRequests) assert.equal(t.headers.authorization, undefined);
    assert.equal(new URLSearchParams(foreign.tokenRequests[0]!.query).get('scope'), 'repository:team/other:pull');
  });
});
