// Security of client auth: challenges, the token service, access rules per action and per user,
// bad tokens of every kind, failed-login backoff, and the catalog filtered by access.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { request } from 'undici';
import { TokenService } from '../../src/auth/token-service.js';
import { pushImage, sha256 as sha } from '../helpers/images.js';
import { removeTempDir } from '../helpers/proc.js';
import { USERS, basic, startAuthGateway } from './fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';
import { waitFor } from '../helpers/wait.js';


describe('client auth and access rules', () => {
  let gw: HostedGateway & { htpasswd: string; dir: string };
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) => {
    const r = await request(new URL(path, gw.url), { method: method as 'GET', headers, body });
    const buf = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, headers: r.headers, body: buf, json: () => JSON.parse(buf.toString()) };
  };
  const token = async (scopes: string[], auth?: string, extra = '') => {
    const q = new URLSearchParams({ service: 'regway' });
    for (const s of scopes) q.append('scope', s);
    const r = await call('GET', `/token?${q}${extra}`, auth ? { authorization: auth } : {});
    assert.equal(r.status, 200, r.body.toString());
    return r.json() as { token: string; access_token: string; expires_in: number; issued_at: string; refresh_token?: string };
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());

  before(async () => {
    gw = await startAuthGateway();
    await pushImage(gw.url, 'local/app', 'v1', { layers: 1, layerSize: 1000, auth: { user: 'alice', password: USERS.alice } });
    await pushImage(gw.url, 'users/alice/secret', 'v1', { layers: 1, layerSize: 1000, auth: { user: 'alice', password: USERS.alice } });
    await pushImage(gw.url, 'public/tool', 'v1', { layers: 1, layerSize: 1000, auth: { user: 'bob', password: USERS.bob } });
  });
  after(async () => { await gw?.stop(); removeTempDir(gw.dir); });

  it('no credentials: /v2/ and repository endpoints answer 401 with a Bearer challenge naming realm, service and scope', async () => {
    const ping = await call('GET', '/v2/');
    assert.equal(ping.status, 401);
    assert.equal(ping.headers['www-authenticate'], `Bearer realm="${gw.url}/token",service="regway"`);
    assert.equal(ping.json().errors[0].code, 'UNAUTHORIZED');
    const m = await call('GET', '/v2/local/app/manifests/v1');
    assert.equal(m.status, 401);
    assert.equal(m.headers['www-authenticate'], `Bearer realm="${gw.url}/token",service="regway",scope="repository:local/app:pull"`);
    const up = await call('POST', '/v2/local/app/blobs/uploads/');
    assert.match(String(up.headers['www-authenticate']), /scope="repository:local\/app:pull,push"/);
    assert.equal((await call('GET', '/v2/public/tool/manifests/v1')).status, 200, 'anonymous pull where a rule allows it');
    assert.equal((await call('POST', '/v2/public/tool/blobs/uploads/')).status, 401, 'but no anonymous push');
  });

  it('Basic credentials work directly; a wrong password is 401', async () => {
    assert.equal((await call('GET', '/v2/', { authorization: basic('alice', USERS.alice) })).status, 200);
    assert.equal((await call('GET', '/v2/local/app/tags/list', { authorization: basic('carol', USERS.carol) })).status, 200);
    assert.equal((await call('GET', '/v2/', { authorization: basic('alice', 'wrong') })).status, 401);
    assert.equal((await call('GET', '/v2/', { authorization: basic('nobody', 'x') })).status, 401);
  });

  it('the token service grants the intersection of what was asked and what is allowed (ES256, kid)', async () => {
    const t = await token(['repository:local/app:pull,push,delete', 'repository:users/bob/x:pull', 'registry:catalog:*'], basic('carol', USERS.carol));
    assert.equal(t.token, t.access_token);
    assert.ok(t.expires_in >= 60);
    const [h] = t.token.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, gw.secure.signingKey!.kid);
    const c = claims(t.token);
    assert.equal(c.sub, 'carol');
    assert.equal(c.iss, 'regway');
    assert.equal(c.aud, 'regway');
    assert.deepEqual(c.access, [
      { type: 'repository', name: 'local/app', actions: ['pull'] },
      { type: 'repository', name: 'users/bob/x', actions: [] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.equal((await call('GET', '/v2/local/app/manifests/v1', bearer(t.token))).status, 200);
    assert.equal((await call('GET', '/v2/', bearer(t.token))).status, 200);
    const anon = await token(['repository:local/app:pull', 'repository:public/tool:pull']);
    assert.equal(claims(anon.token).sub, '');
    assert.deepEqual(claims(anon.token).access.map((a: { actions: string[] }) => a.actions), [[], ['pull']]);
    assert.equal((await call('GET', '/token?service=other', { authorization: basic('alice', USERS.alice) })).status, 403);
    assert.equal((await call('GET', '/token?service=regway', { authorization: basic('alice', 'nope') })).status, 401);
  });

  it('a pull-only user cannot push or delete, with Basic or with a token', async () => {
    const carol = { authorization: basic('carol', USERS.carol) };
    const d = sha(Buffer.from('{}'));
    assert.equal((await call('POST', '/v2/local/app/blobs/uploads/', carol)).status, 403);
    assert.equal((await call('PUT', '/v2/local/app/manifests/v2', { ...carol, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, '{}')).status, 403);
    assert.equal((await call('DELETE', '/v2/local/app/manifests/v1', carol)).status, 403);
    assert.equal((await call('DELETE', `/v2/local/app/blobs/${d}`, carol)).status, 403);
    const t = await token(['repository:local/app:pull,push,delete'], carol.authorization);
    const denied = await call('POST', '/v2/local/app/blobs/uploads/', bearer(t.token));
    assert.equal(denied.status, 403);
    assert.equal(denied.json().errors[0].code, 'DENIED');
    assert.equal((await call('DELETE', '/v2/local/app/manifests/v1', bearer(t.token))).status, 403);
    assert.equal((await call('GET', '/v2/local/app/manifests/v1', carol)).status, 200, 'the tag is still there');
    const alice = await token(['repository:local/app:pull'], basic('alice', USERS.alice));
    const scope = await call('POST', '/v2/local/app/blobs/uploads/', bearer(alice.token));
    assert.equal(scope.status, 401, 'a token without push asks for a new token');
    assert.match(String(scope.headers['www-authenticate']), /scope="repository:local\/app:pull,push",error="insufficient_scope"/);
  });

  it("user A cannot read user B's private repository, nor see it in the catalog", async () => {
    const bob = { authorization: basic('bob', USERS.bob) };
    assert.equal((await call('GET', '/v2/users/alice/secret/manifests/v1', bob)).status, 403);
    assert.equal((await call('GET', '/v2/users/alice/secret/tags/list', bob)).status, 403);
    const t = await token(['repository:users/alice/secret:pull'], bob.authorization);
    assert.deepEqual(claims(t.token).access[0].actions, []);
    assert.equal((await call('GET', '/v2/users/alice/secret/manifests/v1', bearer(t.token))).status, 403);
    assert.equal((await call('GET', '/v2/users/alice/secret/manifests/v1', { authorization: basic('alice', USERS.alice) })).status, 200);
    const bobCat = (await call('GET', '/v2/_catalog', bob)).json().repositories as string[];
    assert.ok(!bobCat.includes('users/alice/secret'), JSON.stringify(bobCat));
    assert.ok(bobCat.includes('local/app') && bobCat.includes('public/tool'));
    const aliceCat = (await call('GET', '/v2/_catalog', { authorization: basic('alice', USERS.alice) })).json().repositories as string[];
    assert.ok(aliceCat.includes('users/alice/secret'));
    const ct = await token(['registry:catalog:*'], bob.authorization);
    const viaToken = (await call('GET', '/v2/_catalog', bearer(ct.token))).json().repositories as string[];
    assert.deepEqual(viaToken, bobCat);
    assert.equal((await call('GET', '/v2/_catalog')).status, 401, 'anonymous may not list');
    // A mount from a repository the caller cannot read falls back to an upload session.
    const layer = (await call('GET', '/v2/users/alice/secret/manifests/v1', { authorization: basic('alice', USERS.alice), accept: 'application/vnd.oci.image.manifest.v1+json' })).json().layers[0].digest;
    const m = await call('POST', `/v2/users/bob/stolen/blobs/uploads/?mount=${layer}&from=users/alice/secret`, bob);
    assert.equal(m.status, 202);
    assert.equal((await call('HEAD', `/v2/users/bob/stolen/blobs/${layer}`, bob)).status, 404);
  });

  it('expired, not-yet-valid, wrong-audience, wrong-issuer, forged and alg:none tokens are refused', async () => {
    const key = gw.secure.signingKey!;
    const settings = { issuer: 'regway', service: 'regway', ttlMs: 300_000, refreshTtlMs: 600_000 };
    const access = [{ type: 'repository', name: 'local/app', actions: ['pull'] }];
    const expired = (await new TokenService(key, settings, () => Date.now() - 3_600_000).issue('alice', access)).token;
    const future = await new SignJWT({ access }).setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer('regway').setSubject('alice').setAudience('regway')
      .setIssuedAt().setNotBefore('1h').setExpirationTime('2h').sign(key.privateKey);
    const wrongAud = (await new TokenService(key, { ...settings, service: 'other-registry' }).issue('alice', access)).token;
    const wrongIss = (await new TokenService(key, { ...settings, issuer: 'someone-else' }).issue('alice', access)).token;
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = (await new TokenService({ ...key, privateKey: other.privateKey, publicKey: other.publicKey }, settings).issue('alice', access)).token;
    const none = new UnsecuredJWT({ access }).setIssuer('regway').setSubject('alice').setAudience('regway').setIssuedAt().setExpirationTime('1h').encode();
    const good = (await new TokenService(key, settings).issue('alice', access)).token;
    const [h, p] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims(good), access: [{ type: 'repository', name: 'users/bob/x', actions: ['pull'] }] })).toString('base64url')}.${good.split('.')[2]}`;
    const hs256 = await new SignJWT({ access }).setProtectedHeader({ alg: 'HS256' }).setIssuer('regway').setSubject('alice').setAudience('regway').setIssuedAt().setExpirationTime('1h')
      .sign(key.publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal((await call('GET', '/v2/local/app/manifests/v1', bearer(good))).status, 200, 'the control token works');
    for (const [name, t] of Object.entries({ expired, future, wrongAud, wrongIss, forged, none, tampered, hs256, garbage: 'a.b.c' })) {
      const r = await call('GET', '/v2/local/app/manifests/v1', bearer(t));
      assert.equal(r.status, 401, name);
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/, name);
    }
    assert.ok(p);
  });

  it('OAuth2 POST: password grant with a refresh token, refresh grant, refresh refused for a removed user', async () => {
    const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
    const ct = { 'content-type': 'application/x-www-form-urlencoded' };
    const pw = await call('POST', '/token', ct, form({ grant_type: 'password', username: 'bob', password: USERS.bob, service: 'regway', scope: 'repository:local/app:pull,push repository:users/alice/secret:pull', access_type: 'offline', client_id: 'test' }));
    assert.equal(pw.status, 200, pw.body.toString());
    const j = pw.json();
    assert.ok(j.access_token && j.refresh_token);
    assert.equal(j.scope, 'repository:local/app:pull,push');
    const rf = await call('POST', '/token', ct, form({ grant_type: 'refresh_token', refresh_token: j.refresh_token, service: 'regway', scope: 'repository:local/app:pull' }));
    assert.equal(rf.status, 200);
    assert.equal(claims(rf.json().access_token).sub, 'bob');
    assert.equal((await call('GET', '/v2/local/app/manifests/v1', bearer(j.refresh_token))).status, 401, 'a refresh token is not an access token');
    assert.equal((await call('POST', '/token', ct, form({ grant_type: 'password', username: 'bob', password: 'bad', service: 'regway' }))).status, 401);
    const { writeFileSync, readFileSync } = await import('node:fs');
    const before = readFileSync(gw.htpasswd, 'utf8');
    writeFileSync(gw.htpasswd, before.split('\n').filter((l) => !l.startsWith('bob:')).join('\n'));
    try {
      const gone = await call('POST', '/token', ct, form({ grant_type: 'refresh_token', refresh_token: j.refresh_token, service: 'regway' }));
      assert.equal(gone.status, 401);
      assert.equal((await call('GET', '/v2/', { authorization: basic('bob', USERS.bob) })).status, 401, 'the removed user cannot sign in');
    } finally { writeFileSync(gw.htpasswd, before); }
  });

  it('repeated failed logins are slowed down: 429 with Retry-After, for that user from that address only', async () => {
    const bad = { authorization: basic('carol', 'guess') };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await call('GET', '/v2/', bad)).status);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429), JSON.stringify(statuses));
    const r = await call('GET', '/v2/', { authorization: basic('carol', USERS.carol) });
    assert.equal(r.status, 429, 'even the right password waits: the backoff is checked first');
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(r.json().errors[0].code, 'TOOMANYREQUESTS');
    const t = await call('GET', '/token?service=regway', { authorization: basic('carol', USERS.carol) });
    assert.equal(t.status, 429, 'the token endpoint shares the backoff');
    assert.equal((await call('GET', '/v2/', { authorization: basic('alice', USERS.alice) })).status, 200, 'other users are unaffected');
    gw.secure.guard.backoff.succeeded('127.0.0.1', 'carol');
  });

  it('request events carry the user and the operation', async () => {
    const seen: { operation: string; user?: string; status: number }[] = [];
    gw.events.add({ record: (e) => seen.push(e) });
    await token(['repository:local/app:pull'], basic('alice', USERS.alice));
    await call('GET', '/v2/local/app/manifests/v1', { authorization: basic('bob', USERS.bob) });
    const p = await call('POST', '/v2/local/app/blobs/uploads/', { authorization: basic('bob', USERS.bob) });
    await call('PUT', `${p.headers.location}?digest=${sha(randomBytes(0))}`, { authorization: basic('bob', USERS.bob) });
    // Events are recorded once each response is done: wait for the last one, the PUT's.
    await waitFor(() => seen.filter((e) => e.operation === 'upload' && e.user === 'bob').length >= 2, 'the two upload events', 5_000, { seen: () => seen });
    assert.ok(seen.some((e) => e.operation === 'token' && e.user === 'alice'), JSON.stringify(seen));
    assert.ok(seen.some((e) => e.operation === 'manifest' && e.user === 'bob'));
    assert.ok(seen.filter((e) => e.operation === 'upload' && e.user === 'bob').length >= 2);
  });
});
