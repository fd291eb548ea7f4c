// Starting, reloading and stopping the gateway the way an operator does: `regway serve --pid-file`,
// `regway reload`, and `npm start` stopped by the npm process's PID. The gateway must never be left
// running behind a dead parent, and its last log line says it has stopped.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/ports.js';
import { killTree, makeTempDir, removeTempDir, run } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'src/cli/main.ts');

/** Resolves when something accepts connections on the port (true) or refuses them (false). */
function listening(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
}

/** waitFor, reporting the gateway's log on a timeout. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, log: () => string): Promise<void> {
  await waitFor(check, what, timeoutMs, { seen: () => `log:\n${log().slice(-3000)}` });
}

const exited = (c: ChildProcess): Promise<void> => new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(); else c.once('exit', () => r()); });

describe('gateway lifecycle', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  after(() => { for (const c of children) if (c.pid && c.exitCode === null) killTree(c.pid, 'SIGKILL'); for (const d of dirs) removeTempDir(d); });

  it('--pid-file and `regway reload`: the new registries are served, a stale pid file is refused clearly, SIGTERM logs "stopped" and removes the file', async () => {
    const dir = makeTempDir('lifecycle');
    dirs.push(dir);
    const port = await freePort();
    const cfg = join(dir, 'regway.yaml');
    const pidFile = join(dir, 'run', 'regway.pid');
    const logFile = join(dir, 'regway.log');
    writeFileSync(cfg, `listen: 127.0.0.1:${port}\nstorage: { path: ${join(dir, 'data')} }\nregistries:\n  docker.io:\n    upstreams: [{ url: "http://127.0.0.1:1" }]\n`);
    const gw = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', cfg, '--pid-file', pidFile], { cwd: ROOT, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] });
    children.push(gw);
    const log = (): string => readFileSync(logFile, 'utf8');
    await until('the pid file', () => existsSync(pidFile), 60_000, log);
    assert.equal(readFileSync(pidFile, 'utf8'), `${gw.pid}\n`);
    const status = async (reg: string): Promise<number> => { const r = await request(`http://127.0.0.1:${port}/v2/${reg}/team/app/manifests/1`); await r.body.dump(); return r.statusCode; };
    assert.equal(await status('quay.io'), 404, 'quay.io is not configured yet: NAME_UNKNOWN');

    writeFileSync(cfg, readFileSync(cfg, 'utf8') + '  quay.io:\n    upstreams: [{ url: "http://127.0.0.1:1" }]\n');
    const r = await run(process.execPath, ['--import', 'tsx', CLI, 'reload', '--pid-file', pidFile], { cwd: ROOT, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`sent SIGHUP to the gateway \\(pid ${gw.pid} `));
    await until('the reload', () => /configuration reloaded/.test(log()), 20_000, log);
    assert.equal(await status('quay.io'), 502, 'quay.io is served now (its upstream is down: UPSTREAM_UNAVAILABLE)');

    gw.kill('SIGTERM');
    await exited(gw);
    assert.equal(gw.exitCode, 0);
    assert.match(log().trim().split('\n').at(-1)!, /"msg":"stopped"/, 'the last line says it is over');
    assert.equal(existsSync(pidFile), false, 'the pid file is removed at exit');
    assert.equal(await listening(port), false);

    writeFileSync(pidFile, `${gw.pid}\n`); // what a crash leaves behind
    const stale = await run(process.execPath, ['--import', 'tsx', CLI, 'reload', '--pid-file', pidFile], { cwd: ROOT, timeoutMs: 60_000 });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /not running \(a stale pid file.*start the gateway again, or remove/);
    const none = await run(process.execPath, ['--import', 'tsx', CLI, 'reload', '--pid-file', join(dir, 'nope.pid')], { cwd: ROOT, timeoutMs: 60_000 });
    assert.match(none.stderr, /no pid file at .*regway serve --pid-file/);
  });

  it('SIGTERM to the PID of `npm start` stops the gateway: the port is free and the log says "stopped"', async () => {
    const dir = makeTempDir('npm-start');
    dirs.push(dir);
    const port = await freePort();
    const logFile = join(dir, 'npm.log');
    const npm = spawn('npm', ['start', '--', '--listen', `127.0.0.1:${port}`, '--storage', join(dir, 'data'), '--no-default-registries'], {
      cwd: ROOT, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
    });
    children.push(npm);
    const log = (): string => readFileSync(logFile, 'utf8');
    // prestart may compile the build first; wait for the gateway itself.
    await until('the gateway to listen', () => listening(port), 240_000, log);
    npm.kill('SIGTERM'); // the npm process only, as `kill <npm pid>` does, not its process group
    await exited(npm);
    await until('the port to be free', async () => !(await listening(port)), 30_000, log);
    assert.match(log(), /"msg":"stopped"/);
  });
});
