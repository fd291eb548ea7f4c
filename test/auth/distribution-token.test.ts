// regway as the token service of another registry: a real CNCF distribution configured with
// `auth: token` whose rootcertbundle is regway's signing certificate accepts regway's tokens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { request } from 'undici';
import { REGISTRY_BIN } from '../helpers/distribution.js';
import { freePort, waitForHttp } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, type Daemon } from '../helpers/proc.js';
import { pushImage } from '../helpers/images.js';
import { skopeoCopy, skopeoInspectDigest } from '../helpers/clients.js';
import { USERS, startAuthGateway } from './fixtures.js';
import type { HostedGateway } from '../hosted/gateway.js';
import { TokenService } from '../../src/auth/token-service.js';
import { generateKeyPairSync } from 'node:crypto';

describe('distribution (auth: token) trusts tokens from regway', () => {
  let gw: HostedGateway & { htpasswd: string; dir: string };
  let dist: Daemon;
  let distUrl: string;
  let distHost: string;
  const dir = makeTempDir('dist-token');

  before(async () => {
    gw = await startAuthGateway({
      auth: {
        access: [
          { repositories: ['**'], users: ['alice'], actions: ['*'] },
          { repositories: ['**'], users: ['carol'], actions: ['pull'] },
        ],
      },
    });
    const port = await freePort();
    distUrl = `http://127.0.0.1:${port}`;
    distHost = `127.0.0.1:${port}`;
    writeFileSync(join(dir, 'config.yml'), stringify({
      version: 0.1,
      log: { level: 'info', formatter: 'json', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: distHost, secret: randomBytes(16).toString('hex') },
      // What the README tells operators: realm = regway's token endpoint, service and issuer as
      // regway signs them, rootcertbundle = regway's signing certificate.
      auth: { token: { realm: `${gw.url}/token`, service: 'regway', issuer: 'regway', rootcertbundle: gw.secure.signingKey!.certPath } },
    }));
    dist = spawnDaemon(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdoutFile: join(dir, 'out.log'), stderrFile: join(dir, 'err.log'), cwd: dir });
    await waitForHttp(`${distUrl}/v2/`, 15_000);
  });
  after(async () => { if (dist) await stopDaemon(dist, 5_000); await gw?.stop(); removeTempDir(dir); removeTempDir(gw.dir); });

  it('challenges with regway as the realm', async () => {
    const r = await request(`${distUrl}/v2/team/app/manifests/v1`);
    await r.body.dump();
    assert.equal(r.statusCode, 401);
    assert.equal(r.headers['www-authenticate'], `Bearer realm="${gw.url}/token",service="regway",scope="repository:team/app:pull"`);
  });

  it('a push and a pull with regway-issued tokens succeed', async () => {
    // The source image sits in regway itself (hosted); skopeo signs in to both with alice.
    const img = await pushImage(gw.url, 'local/src', 'v1', { layers: 2, layerSize: 100_000, auth: { user: 'alice', password: USERS.alice } });
    const alice = { user: 'alice', password: USERS.alice };
    const push = await skopeoCopy(`docker://${gw.host}/local/src:v1`, `docker://${distHost}/team/app:v1`, { srcCreds: alice, destCreds: alice });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(await skopeoInspectDigest(`docker://${distHost}/team/app:v1`, { creds: { user: 'carol', password: USERS.carol } }), img.manifestDigest);
    const out = makeTempDir('dist-token-oci');
    try {
      const r = await skopeoCopy(`docker://${distHost}/team/app:v1`, `oci:${out}:v1`, { srcCreds: { user: 'carol', password: USERS.carol } });
      assert.equal(r.code, 0, r.stderr);
    } finally { removeTempDir(out); }
  });

  it('a pull-only user cannot push, and a token signed by another key is refused', async () => {
    const denied = await skopeoCopy(`docker://${distHost}/team/app:v1`, `docker://${distHost}/team/carol:v1`, { srcCreds: { user: 'carol', password: USERS.carol }, destCreds: { user: 'carol', password: USERS.carol } });
    assert.notEqual(denied.code, 0);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = gw.secure.signingKey!;
    const forged = await new TokenService({ ...key, ...other }, { issuer: 'regway', service: 'regway', ttlMs: 300_000, refreshTtlMs: 0 })
      .issue('alice', [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const good = await gw.secure.guard.auth!.tokens.issue('alice', [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const get = async (t: string) => { const r = await request(`${distUrl}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${t}` } }); await r.body.dump(); return r.statusCode; };
    assert.equal(await get(good.token), 200);
    assert.equal(await get(forged.token), 401);
  });
});
