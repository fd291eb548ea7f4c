// Doctor scenarios about logins, against real distributions: htpasswd (Basic) with credentials in a Docker
// config.json and a containers auth.json written to temp dirs, a credsStore that shadows them, a helper on PATH, and
// token authentication (Bearer) with a token service whose JWTs distribution verifies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { runDoctor, type DoctorOptions } from '../../src/diagnose/doctor/index.js';
import { makeLeaf } from './fixtures/certs.js';
import { startRegistry, type Registry } from './fixtures/registry.js';
import { startTokenServer, type TokenServer } from './fixtures/token-server.js';
import { absent, get, isolated, show } from './fixtures/assert.js';

const USER = { user: 'alice', password: 's3cret:with-colon' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');
let dist: Distribution;
let tmp: string;

before(async () => {
  tmp = makeTempDir('doctor-auth');
  dist = await startDistribution({ htpasswd: USER });
  await pushImage(dist.url, 'team/app', '1.0', { layers: 1, layerSize: 50_000, auth: USER });
});
after(async () => {
  await dist.stop();
  removeTempDir(tmp);
});

function file(name: string, doc: unknown): string {
  const dir = join(tmp, `${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'config.json');
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

const target = (): string => `http://${dist.host}/team/app:1.0`;

test('Basic auth, nothing stored: AUTH_BASIC, CRED_NONE, LOGIN_REQUIRED', async () => {
  const r = await runDoctor(target(), isolated(tmp));
  get(r, 'AUTH_BASIC');
  get(r, 'CRED_NONE');
  get(r, 'LOGIN_REQUIRED');
  absent(r, 'MANIFEST_OK');
});

test('wrong password in a Docker config.json: LOGIN_REJECTED names the file and the key', async () => {
  const cfg = file('docker', { auths: { [dist.host]: { auth: b64('alice:wrong') } } });
  const r = await runDoctor(target(), { dockerConfig: cfg, authFile: join(tmp, 'none.json') });
  assert.match(get(r, 'CRED_FOUND').detail, new RegExp(`${cfg}.*"${dist.host}"`));
  const f = get(r, 'LOGIN_REJECTED');
  assert.equal(f.data?.file, cfg);
  assert.equal(f.data?.key, dist.host);
  assert.match(f.detail, /user "alice" from .*config\.json key/);
});

test('right password in a containers auth.json (scheme-prefixed key): LOGIN_OK and the image is read', async () => {
  const auth = file('podman', { auths: { [`http://${dist.host}`]: { auth: b64(`${USER.user}:${USER.password}`) } } });
  const r = await runDoctor(target(), { dockerConfig: join(tmp, 'none.json'), authFile: auth });
  assert.equal(get(r, 'CRED_FOUND').data?.client, 'podman');
  get(r, 'LOGIN_OK');
  get(r, 'MANIFEST_OK');
  get(r, 'BLOB_OK');
  assert.equal(get(r, 'UPLOAD_OK').severity, 'ok', show(r));
});

test('credsStore shadows the stored login and its helper is missing: CRED_SHADOWED + CRED_HELPER_MISSING', async () => {
  const cfg = file('desktop', { auths: { [dist.host]: { auth: b64(`${USER.user}:${USER.password}`) } }, credsStore: 'desktop' });
  const r = await runDoctor(target(), { dockerConfig: cfg, authFile: join(tmp, 'none.json'), env: { PATH: '/usr/bin:/bin' } } as DoctorOptions);
  get(r, 'CRED_HELPER_MISSING');
  assert.match(get(r, 'CRED_SHADOWED').detail, /credsStore.*desktop/);
  get(r, 'LOGIN_REQUIRED');
});

test('a credential helper on PATH answers: CRED_HELPER and LOGIN_OK; one that knows nothing leaves the entry shadowed', async () => {
  const bin = join(tmp, `bin-${Date.now()}`);
  mkdirSync(bin);
  // The helper protocol: server URL on stdin, JSON on stdout; "credentials not found" on a miss.
  writeFileSync(
    join(bin, 'docker-credential-vault'),
    `#!/bin/sh\nread server\n[ "$server" = "${dist.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\nprintf '{"ServerURL":"%s","Username":"${USER.user}","Secret":"${USER.password}"}' "$server"\n`,
  );
  writeFileSync(join(bin, 'docker-credential-locked'), '#!/bin/sh\necho "gpg: decryption failed: No secret key" >&2\nexit 2\n');
  chmodSync(join(bin, 'docker-credential-locked'), 0o755);
  writeFileSync(join(bin, 'docker-credential-empty'), '#!/bin/sh\necho "credentials not found in native keychain"\nexit 1\n');
  chmodSync(join(bin, 'docker-credential-vault'), 0o755);
  chmodSync(join(bin, 'docker-credential-empty'), 0o755);
  const env = { PATH: `${bin}:/usr/bin:/bin` };
  const cfg = file('helper', { credHelpers: { [dist.host]: 'vault' } });
  const r = await runDoctor(target(), { dockerConfig: cfg, authFile: join(tmp, 'none.json'), env } as DoctorOptions);
  assert.match(get(r, 'CRED_HELPER').detail, /docker-credential-vault.*user "alice"/);
  get(r, 'LOGIN_OK');
  const shadow = file('empty', { auths: { [dist.host]: { auth: b64('alice:x') } }, credsStore: 'empty' });
  const r2 = await runDoctor(target(), { dockerConfig: shadow, authFile: join(tmp, 'none.json'), env } as DoctorOptions);
  assert.match(get(r2, 'CRED_SHADOWED').detail, /docker pulls anonymously/);
  const locked = file('locked', { credsStore: 'locked' });
  const r3 = await runDoctor(target(), { dockerConfig: locked, authFile: join(tmp, 'none.json'), env } as DoctorOptions);
  assert.match(get(r3, 'CRED_HELPER_FAILED').detail, /decryption failed/);
});

test('malformed auth, a file that is not JSON, and docker/podman disagreeing', async () => {
  const bad = file('bad', { auths: { [dist.host]: { auth: b64('no-colon') } } });
  get(await runDoctor(target(), { dockerConfig: bad, authFile: join(tmp, 'none.json') }), 'CRED_MALFORMED');
  const broken = file('broken', '{"auths": {');
  get(await runDoctor(target(), { dockerConfig: broken, authFile: join(tmp, 'none.json') }), 'CRED_FILE_INVALID');
  const d = file('d', { auths: { [dist.host]: { auth: b64(`${USER.user}:${USER.password}`) } } });
  const p = file('p', { auths: { [dist.host]: { auth: b64('bob:other') } } });
  const r = await runDoctor(target(), { dockerConfig: d, authFile: p });
  assert.match(get(r, 'CRED_CONFLICT').detail, /"alice" for docker, "bob" for podman/);
  get(r, 'LOGIN_OK');
});

test('credentials given directly win over the files', async () => {
  const r = await runDoctor(target(), { ...isolated(tmp), username: USER.user, password: USER.password });
  assert.equal(get(r, 'CRED_FOUND').data?.client, 'flags');
  get(r, 'LOGIN_OK');
});

// ---- token authentication -------------------------------------------------------------------------

let tokenReg: Registry;
let tokens: TokenServer;

test('token auth: AUTH_BEARER, TOKEN_OK, MANIFEST_DENIED for anonymous, TOKEN_REJECTED, TOKEN_FAILED when the service is down', async (t) => {
  const signing = makeLeaf(join(tmp, 'tok'), { name: 'token-signer', san: 'DNS:token.test' });
  tokens = await startTokenServer(signing, { [USER.user]: USER.password });
  // The image goes in through an open registry on the same storage: the push helper asks for one token scope only.
  const storage = join(tmp, 'token-storage');
  const open = await startRegistry({ storage });
  await pushImage(open.url, 'team/private', '2.0', { layers: 1, layerSize: 30_000 });
  await open.stop();
  tokenReg = await startRegistry({ storage, token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: signing.cert } });
  t.after(async () => {
    await tokenReg.stop();
    await tokens.stop();
  });
  const tgt = `http://${tokenReg.host}/team/private:2.0`;

  const ok = await runDoctor(tgt, { ...isolated(tmp), username: USER.user, password: USER.password });
  const ch = get(ok, 'AUTH_BEARER');
  assert.equal(ch.data?.realm, tokens.realm);
  assert.equal(ch.data?.service, tokens.service);
  assert.match(get(ok, 'TOKEN_OK').detail, /repository:team\/private:pull/);
  get(ok, 'MANIFEST_OK');
  get(ok, 'BLOB_OK');
  get(ok, 'UPLOAD_OK');

  const anon = await runDoctor(tgt, isolated(tmp));
  get(anon, 'TOKEN_OK');
  assert.match(get(anon, 'MANIFEST_DENIED').detail, /anonymous/);

  const wrong = await runDoctor(tgt, { ...isolated(tmp), username: USER.user, password: 'nope' });
  assert.match(get(wrong, 'TOKEN_REJECTED').detail, /answered 401 to user "alice"/);
  absent(wrong, 'MANIFEST_DENIED');

  await tokens.stop();
  const down = await runDoctor(tgt, { ...isolated(tmp), username: USER.user, password: USER.password, timeoutMs: 3000 });
  assert.match(get(down, 'TOKEN_FAILED').detail, /ECONNREFUSED/);
});
