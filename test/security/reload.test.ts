// Reload means reload: a SIGHUP to a running `regway serve` applies access rules, groups, users,
// token settings and hosted patterns together with the registries, lists exactly what needs a
// restart, and never reports a change as applied that is not. Before the fix the reload logged
// `changed: []` and a user whose rule was removed kept pulling, with Basic and with tokens.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { request } from 'undici';
import { startInstance } from '../helpers/instance.js';
import { pushImage } from '../helpers/images.js';
import { USERS, basic, writeHtpasswd } from '../auth/fixtures.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

async function waitForLog(file: string, re: RegExp, after = 0, ms = 15_000): Promise<string> {
  const text = () => readFileSync(file, 'utf8').slice(after);
  return waitFor(() => text().split('\n').find((l) => re.test(l)), `a log line matching ${re}`, ms, { seen: () => text().slice(-2000) });
}

it('SIGHUP applies access rules, groups and hosted patterns at once, revoking tokens already issued; restart-only settings are listed', async () => {
  const dir = makeTempDir('reload-auth');
  const htpasswd = await writeHtpasswd(dir);
  const inst = await startInstance({
    registries: {},
    hosted: { repositories: ['local/**'] },
    auth: {
      htpasswd,
      groups: {},
      access: [
        { repositories: ['local/**'], users: ['alice'], actions: ['*'] },
        { repositories: ['local/**'], users: ['bob'], actions: ['pull'] },
      ],
    },
    log: { level: 'info' },
  });
  const get = async (path: string, headers: Record<string, string>) => {
    const r = await request(`${inst.url}${path}`, { headers });
    const body = await r.body.text();
    return { status: r.statusCode, body };
  };
  const token = async (user: 'alice' | 'bob', scope: string) => {
    const r = await get(`/token?service=regway&scope=${encodeURIComponent(scope)}`, { authorization: basic(user, USERS[user]) });
    const t = JSON.parse(r.body) as { token: string };
    return { token: t.token, actions: JSON.parse(Buffer.from(t.token.split('.')[1]!, 'base64url').toString()).access[0].actions as string[] };
  };
  const reload = async (edit: (cfg: Record<string, any>) => void) => {
    const cfg = parse(readFileSync(inst.configFile, 'utf8')) as Record<string, any>;
    edit(cfg);
    writeFileSync(inst.configFile, stringify(cfg));
    const at = readFileSync(inst.logFile, 'utf8').length;
    inst.signal('SIGHUP');
    return JSON.parse(await waitForLog(inst.logFile, /configuration reloaded|reload refused/, at)) as { changed: string[]; needsRestart: string[] };
  };
  try {
    const img = await pushImage(inst.url, 'local/app', 'v1', { layers: 1, layerSize: 500, auth: { user: 'alice', password: USERS.alice } });
    const bobBasic = { authorization: basic('bob', USERS.bob), accept: img.mediaType };
    assert.equal((await get('/v2/local/app/manifests/v1', bobBasic)).status, 200);
    const old = await token('bob', 'repository:local/app:pull');
    assert.deepEqual(old.actions, ['pull']);

    // bob's rule goes; a restart-only setting changes in the same edit.
    const r1 = await reload((cfg) => {
      cfg.auth.access = [cfg.auth.access[0]];
      cfg.limits = { idleTimeout: '90s' };
    });
    assert.deepEqual(r1.changed, ['auth.access']);
    assert.deepEqual(r1.needsRestart, ['limits.idleTimeout']);
    assert.equal((await get('/v2/local/app/manifests/v1', bobBasic)).status, 403, 'Basic: revoked at once');
    assert.equal((await get('/v2/local/app/manifests/v1', { authorization: `Bearer ${old.token}`, accept: img.mediaType })).status, 403, 'a token issued before the reload is revoked too');
    assert.deepEqual((await token('bob', 'repository:local/app:pull')).actions, [], 'new tokens carry nothing');

    // A group grants it back; a new hosted namespace becomes pushable; the restart-only change is still pending.
    const r2 = await reload((cfg) => {
      cfg.auth.groups = { readers: ['bob'] };
      cfg.auth.access.push({ repositories: ['local/**', 'team/**'], groups: ['readers'], actions: ['pull'] }, { repositories: ['team/**'], users: ['alice'], actions: ['*'] });
      cfg.hosted.repositories.push('team/**');
    });
    assert.deepEqual(r2.changed.sort(), ['auth.access', 'auth.groups', 'hosted.repositories']);
    assert.deepEqual(r2.needsRestart, ['limits.idleTimeout'], 'still waiting for a restart, and said again');
    assert.equal((await get('/v2/local/app/manifests/v1', bobBasic)).status, 200);
    const team = await pushImage(inst.url, 'team/tool', 'v1', { layers: 1, layerSize: 500, auth: { user: 'alice', password: USERS.alice } });
    assert.equal((await get('/v2/team/tool/manifests/v1', { ...bobBasic, accept: team.mediaType })).status, 200);
  } finally {
    await inst.stop();
    removeTempDir(dir);
  }
});
