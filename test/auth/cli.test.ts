// The CLI end to end: `regway user` manages an htpasswd file, and `regway serve --hosted
// --htpasswd` alone makes a working private registry (users added later work without a restart).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'undici';
import { freePort, waitForHttp } from '../helpers/ports.js';
import { makeTempDir, removeTempDir, spawnDaemon, stopDaemon, type Daemon } from '../helpers/proc.js';
import { pushImage } from '../helpers/images.js';
import { skopeoInspectDigest } from '../helpers/clients.js';
import { basic, regway } from './fixtures.js';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

describe('regway user and regway serve --hosted --htpasswd', () => {
  const dir = makeTempDir('regway-cli');
  const htpasswd = join(dir, 'htpasswd');
  let serve: Daemon | undefined;
  after(async () => { if (serve) await stopDaemon(serve, 10_000); removeTempDir(dir); });

  it('user add / passwd / list / del', async () => {
    const add = await regway(['user', 'add', 'alice', '--htpasswd', htpasswd, '--password-stdin', '--cost', '4'], { input: 'alice-secret-1' });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(statSync(htpasswd).mode & 0o777, 0o600);
    assert.match(readFileSync(htpasswd, 'utf8'), /^alice:\$2[aby]\$04\$/);
    const dup = await regway(['user', 'add', 'alice', '--htpasswd', htpasswd, '--password-stdin'], { input: 'whatever-pass' });
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);
    assert.notEqual((await regway(['user', 'add', 'bob', '--htpasswd', htpasswd, '--password-stdin'], { input: 'short' })).code, 0, 'short passwords refused');
    assert.equal((await regway(['user', 'add', 'tmp', '--htpasswd', htpasswd, '--cost', '4'], { env: { REGWAY_PASSWORD: 'tmp-password' } })).code, 0);
    assert.equal((await regway(['user', 'passwd', 'tmp', '--htpasswd', htpasswd, '--password-stdin', '--cost', '4'], { input: 'tmp-password-2' })).code, 0);
    assert.equal((await regway(['user', 'list', '--htpasswd', htpasswd])).stdout, 'alice\ntmp\n');
    assert.equal((await regway(['user', 'del', 'tmp', '--htpasswd', htpasswd])).code, 0);
    assert.equal((await regway(['user', 'list', '--htpasswd', htpasswd])).stdout, 'alice\n');
    const help = await regway(['user', '--help']);
    assert.match(help.stdout, /Examples:/);
  });

  it('serve --hosted --htpasswd is a working private registry', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    serve = spawnDaemon(process.execPath, ['--import', 'tsx', CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--storage', join(dir, 'data'), '--hosted', 'local/**', '--htpasswd', htpasswd], {
      stdoutFile: join(dir, 'serve.log'), stderrFile: join(dir, 'serve.err'),
    });
    assert.equal(await waitForHttp(`${url}/v2/`, 30_000), 401);
    const img = await pushImage(url, 'local/app', 'v1', { layers: 1, layerSize: 10_000, auth: { user: 'alice', password: 'alice-secret-1' } });
    assert.equal(await skopeoInspectDigest(`docker://127.0.0.1:${port}/local/app:v1`, { creds: { user: 'alice', password: 'alice-secret-1' } }), img.manifestDigest);
    const before = await request(`${url}/v2/local/app/tags/list`, { headers: { authorization: basic('dave', 'dave-secret-1') } });
    await before.body.dump();
    assert.equal(before.statusCode, 401);
    assert.equal((await regway(['user', 'add', 'dave', '--htpasswd', htpasswd, '--password-stdin', '--cost', '4'], { input: 'dave-secret-1' })).code, 0);
    const later = await request(`${url}/v2/local/app/tags/list`, { headers: { authorization: basic('dave', 'dave-secret-1') } });
    assert.equal(later.statusCode, 200, 'a user added while serving can sign in');
    assert.deepEqual(await later.body.json(), { name: 'local/app', tags: ['v1'] });
    const proxied = await request(`${url}/v2/library/alpine/blobs/uploads/`, { method: 'POST', headers: { authorization: basic('alice', 'alice-secret-1') } });
    await proxied.body.dump();
    assert.equal(proxied.statusCode, 405, 'not hosted: a pull-through namespace refuses pushes');
    assert.match(readFileSync(join(dir, 'serve.log'), 'utf8') + readFileSync(join(dir, 'serve.err'), 'utf8'), /token\.crt/, 'the log says where the signing certificate is');
  });
});
