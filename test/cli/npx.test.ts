// The CLI as the docs call it: `npx regway ...` from a checkout (any directory inside it), and
// `regway ...` after `npm install -g .`. Offline: npm links the checkout, it downloads nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test('npx regway works from the checkout and from a folder inside it', async () => {
  for (const cwd of [ROOT, join(ROOT, 'docs')]) {
    const r = await run('npx', ['--offline', 'regway', '--version'], { cwd, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  }
  const help = await run('npx', ['--offline', 'regway', 'reload', '--help'], { cwd: ROOT, timeoutMs: 120_000 });
  assert.match(help.stdout, /Example:\n {2}regway serve .*--pid-file/);
});

test('npm install -g . puts `regway` on the PATH of a node', async () => {
  const prefix = makeTempDir('npm-global');
  try {
    const i = await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '.'], { cwd: ROOT, timeoutMs: 120_000 });
    assert.equal(i.code, 0, i.stderr);
    const r = await run('regway', ['--version'], { env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` }, cwd: prefix, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  } finally { removeTempDir(prefix); }
});
