import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTempsSync, writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';

const dirs: string[] = [];
const fresh = () => {
  dirs.push(mkdtempSync(join(tmpdir(), 'regway-atomic-')));
  return dirs.at(-1)!;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
/** Data the write step rejects after the temp file exists: the failure lands mid-write, as a full disk would. */
const badData = { length: 3 } as unknown as Uint8Array;

const variants = [
  { name: 'sync', write: async (...a: Parameters<typeof writeFileAtomicSync>) => writeFileAtomicSync(...a) },
  { name: 'async', write: writeFileAtomic },
];

for (const { name, write } of variants) {
  test(`${name}: writes a new file and replaces an old one, leaving nothing beside it`, async () => {
    const dir = fresh();
    const f = join(dir, 'state.json');
    await write(f, 'one');
    await write(f, Buffer.from('two'));
    assert.equal(readFileSync(f, 'utf8'), 'two');
    assert.deepEqual(readdirSync(dir), ['state.json']);
    assert.equal(statSync(f).mode & 0o777, 0o600, 'private unless asked otherwise');
  });

  test(`${name}: a failed write leaves the old file intact and no temp file`, async () => {
    const dir = fresh();
    const f = join(dir, 'htpasswd');
    writeFileSync(f, 'old');
    await assert.rejects(write(f, badData));
    assert.equal(readFileSync(f, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['htpasswd']);
  });

  test(`${name}: a failed rename (a directory in the way) leaves no temp file`, async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'target', 'inside'), { recursive: true });
    await assert.rejects(write(join(dir, 'target'), 'new'));
    assert.deepEqual(readdirSync(dir), ['target']);
    assert.deepEqual(readdirSync(join(dir, 'target')), ['inside']);
  });

  test(`${name}: exact mode whatever the umask, parent directories on request, temp file elsewhere`, async () => {
    const dir = fresh();
    const f = join(dir, 'a', 'b', 'hosts.toml');
    await assert.rejects(write(f, 'x'), /ENOENT/, 'missing directories are an error unless dirMode is given');
    await write(f, 'x', { mode: 0o664, exactMode: true, dirMode: 0o755 });
    assert.equal(statSync(f).mode & 0o777, 0o664);
    const spool = join(dir, '_tmp');
    mkdirSync(spool);
    await write(f, 'y', { mode: 0o644, tmpDir: spool });
    assert.equal(readFileSync(f, 'utf8'), 'y');
    assert.deepEqual(readdirSync(spool), []);
    assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['hosts.toml']);
  });
}

test("removeStaleTempsSync removes a killed writer's temp files of that target only", () => {
  const dir = fresh();
  const f = join(dir, 'daemon.json');
  for (const n of ['daemon.json', '.daemon.json.regway-42-0badf00d.tmp', '.other.json.regway-42-0badf00d.tmp', '.daemon.json.swp']) writeFileSync(join(dir, n), '');
  removeStaleTempsSync(f);
  assert.deepEqual(readdirSync(dir).sort(), ['.daemon.json.swp', '.other.json.regway-42-0badf00d.tmp', 'daemon.json']);
});
