// Upstream credentials follow only realms that may see them. The upstream answers 401 with a token
// realm of its choosing; before the fix regway fetched a token from any realm, on any host, port
// or scheme, with the upstream's Basic credentials, so an https upstream could get them sent in
// clear text to an http realm. Both cases below failed there (the realm server saw the password).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startScriptedUpstream, type ScriptedUpstream } from '../helpers/scripted-upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makeCert } from '../controller/certs.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';

const REG = 'realm.test';
const CREDS = { username: 'robot', password: 'hunter2-upstream' };

/** An upstream that wants a bearer token from `realm` and accepts any token it issued. */
function wantsToken(realm: () => string) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url === '/v2/') { res.writeHead(200).end('{}'); return true; }
    if (req.headers.authorization === 'Bearer good-token') { res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}'); return true; }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="up"`, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"x"}]}');
    return true;
  };
}

function tokenServer(s: ScriptedUpstream): void {
  s.on((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"good-token","expires_in":300}'); return true; });
}

const metric = async (gw: TestGateway, re: RegExp) => {
  const text = await (await request(`${gw.url}/metrics`)).body.text();
  return Number(text.split('\n').find((l) => re.test(l))?.split(' ').pop() ?? 0);
};

describe('upstream token realms', () => {
  let dir: string;
  before(() => { dir = makeTempDir('realm'); });
  after(() => removeTempDir(dir));

  it('an https upstream whose realm is http: refused, no request reaches the realm, counted', async () => {
    const cert = makeCert(dir, 'up');
    const realm = await startScriptedUpstream();
    tokenServer(realm);
    const up = await startScriptedUpstream({ tls: { key: cert.key, cert: cert.cert } });
    up.on(wantsToken(() => `${realm.url}/token`));
    const gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: up.url, auth: CREDS, tls: { ca: cert.caFile } }] } } });
    try {
      const r = await request(`${gw.url}/v2/${REG}/team/app/manifests/v1`);
      const body = await r.body.text();
      assert.equal(r.statusCode, 502, body);
      assert.match(body, /downgrade https to http/);
      assert.equal(realm.requests.length, 0, 'nothing, least of all the password, went to the http realm');
      assert.ok(await metric(gw, /regway_upstream_refusals_total\{.*reason="realm_downgrade"/) >= 1);
    } finally { await gw.stop(); await up.stop(); await realm.stop(); }
  });

  it('a realm on another host gets no credentials unless listed in tokenRealms', async () => {
    const realm = await startScriptedUpstream({ host: '127.0.0.2' });
    tokenServer(realm);
    const up = await startScriptedUpstream();
    up.on(wantsToken(() => `${realm.url}/token`));
    const foreign = await startGateway({ registries: { [REG]: { upstreams: [{ url: up.url, auth: CREDS }] } } });
    try {
      await (await request(`${foreign.url}/v2/${REG}/team/app/manifests/v1`)).body.dump();
      assert.ok(realm.requests.length >= 1, 'an anonymous token may still be asked for');
      assert.ok(realm.requests.every((q) => q.headers.authorization === undefined), 'but without the upstream\'s credentials');
      assert.ok(await metric(foreign, /regway_upstream_refusals_total\{.*reason="realm_foreign_host"/) >= 1);
    } finally { await foreign.stop(); }
    realm.requests.length = 0;
    const allowed = await startGateway({ registries: { [REG]: { upstreams: [{ url: up.url, auth: CREDS, tokenRealms: [realm.url] }] } } });
    try {
      const r = await request(`${allowed.url}/v2/${REG}/team/app/manifests/v1`);
      await r.body.dump();
      assert.equal(r.statusCode, 404, 'the token worked');
      const sent = realm.requests.map((q) => q.headers.authorization);
      assert.deepEqual(sent, [`Basic ${Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64')}`]);
    } finally { await allowed.stop(); await up.stop(); await realm.stop(); }
  });
});
