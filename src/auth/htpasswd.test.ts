import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Htpasswd, formatHtpasswd, hashPassword, parseHtpasswd } from './htpasswd.js';

test('only bcrypt entries are accepted; others are reported', async () => {
  const h = await hashPassword('pw', 4);
  const { users, skipped } = parseHtpasswd(`# comment\nalice:${h}\nold:$apr1$abc$def\nbob:{SHA}xyz\n\nbad line\n`);
  assert.deepEqual([...users.keys()], ['alice']);
  assert.deepEqual(skipped, ['old', 'bob', 'bad line']);
  assert.equal(formatHtpasswd(new Map([['b', h], ['a', h]])), `a:${h}\nb:${h}\n`);
});

test('verify checks bcrypt, follows file changes, and forgets a removed user at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'htp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'htpasswd');
  writeFileSync(path, `alice:${await hashPassword('one', 4)}\n`);
  const f = new Htpasswd(path);
  await f.load();
  assert.equal(await f.verify('alice', 'one'), true);
  assert.equal(await f.verify('alice', 'two'), false);
  assert.equal(await f.verify('nobody', 'one'), false);
  writeFileSync(path, `alice:${await hashPassword('two', 4)}\n`);
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  assert.equal(await f.verify('alice', 'one'), false, 'the cached success does not survive a password change');
  assert.equal(await f.verify('alice', 'two'), true);
  writeFileSync(path, '');
  utimesSync(path, new Date(), new Date(Date.now() + 10_000));
  assert.equal(await f.verify('alice', 'two'), false);
  assert.equal(await f.has('alice'), false);
});
