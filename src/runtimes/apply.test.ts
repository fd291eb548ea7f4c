import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { applyChanges, listBackupSets, rollback } from './apply.js';
import type { FileChange } from './plan.js';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'regway-apply-'));
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), t);
  }
  return root;
}

const change = (path: string, before: string | undefined, after: string | null): FileChange => ({
  target: 'docker-daemon',
  path,
  action: after === null ? 'delete' : before === undefined ? 'create' : 'update',
  before,
  after,
  mode: 0o644,
  sensitive: false,
});

test('apply writes, keeps mode and owner, backs up, and rollback restores (removing created files)', () => {
  const root = tree({ '/etc/a.json': 'old-a', '/etc/c.toml': 'old-c' });
  chownSync(join(root, '/etc/a.json'), 1234, 2345);
  chmodSync(join(root, '/etc/a.json'), 0o640);
  const r = applyChanges([change('/etc/a.json', 'old-a', 'new-a'), change('/etc/new/b.json', undefined, 'new-b'), change('/etc/c.toml', 'old-c', null)], { root });
  assert.equal(readFileSync(join(root, '/etc/a.json'), 'utf8'), 'new-a');
  const st = statSync(join(root, '/etc/a.json'));
  assert.equal(st.uid, 1234);
  assert.equal(st.gid, 2345);
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(readFileSync(join(root, '/etc/new/b.json'), 'utf8'), 'new-b');
  assert.equal(existsSync(join(root, '/etc/c.toml')), false);
  const sets = listBackupSets(root);
  assert.equal(sets.length, 1);
  assert.equal(sets[0]!.dir, r.backupSet);
  assert.ok(sets[0]!.manifest.completedAt);
  assert.deepEqual(
    sets[0]!.manifest.entries.map((e) => [e.path, e.existed]),
    [
      ['/etc/a.json', true],
      ['/etc/new/b.json', false],
      ['/etc/c.toml', true],
    ],
  );
  assert.equal(statSync(join(r.backupSet!, 'manifest.json')).mode & 0o777, 0o600);

  const rb = rollback({ root });
  assert.deepEqual(rb.removed, ['/etc/new/b.json']);
  assert.equal(readFileSync(join(root, '/etc/a.json'), 'utf8'), 'old-a');
  assert.equal(statSync(join(root, '/etc/a.json')).mode & 0o777, 0o640);
  assert.equal(statSync(join(root, '/etc/a.json')).uid, 1234);
  assert.equal(readFileSync(join(root, '/etc/c.toml'), 'utf8'), 'old-c');
  assert.equal(existsSync(join(root, '/etc/new/b.json')), false);
  // The directory apply created for b.json goes too; /etc existed before and stays.
  assert.deepEqual(rb.removedDirs, ['/etc/new']);
  assert.equal(existsSync(join(root, '/etc/new')), false);
  assert.equal(existsSync(join(root, '/etc')), true);
  assert.throws(() => rollback({ root }), /no backup set to roll back to/);
  // No temp files anywhere.
  assert.deepEqual(
    readdirSync(join(root, 'etc')).filter((n) => n.includes('regway')),
    [],
  );
});

test('a failure between two files leaves each file old or new, and rollback repairs the partial apply', () => {
  const root = tree({ '/a': 'old-a', '/b': 'old-b' });
  assert.throws(
    () =>
      applyChanges([change('/a', 'old-a', 'new-a'), change('/b', 'old-b', 'new-b')], {
        root,
        afterFile: (i) => {
          if (i === 0) throw new Error('injected crash');
        },
      }),
    /injected crash/,
  );
  assert.equal(readFileSync(join(root, '/a'), 'utf8'), 'new-a');
  assert.equal(readFileSync(join(root, '/b'), 'utf8'), 'old-b');
  const set = listBackupSets(root)[0]!;
  assert.equal(set.manifest.completedAt, undefined);
  rollback({ root });
  assert.equal(readFileSync(join(root, '/a'), 'utf8'), 'old-a');
  assert.equal(readFileSync(join(root, '/b'), 'utf8'), 'old-b');
});

test('apply refuses files that changed since the plan and writes nothing', () => {
  const root = tree({ '/a': 'edited by someone', '/b': 'old-b' });
  assert.throws(() => applyChanges([change('/b', 'old-b', 'new-b'), change('/a', 'old-a', 'new-a')], { root }), /changed while regway was planning; nothing was written/);
  assert.equal(readFileSync(join(root, '/b'), 'utf8'), 'old-b');
  assert.equal(listBackupSets(root).length, 0);
});

test('rollback removes the directories apply created, deepest first, but keeps one someone put a file in', () => {
  const root = tree({ '/keep': 'x' });
  applyChanges([change('/etc/containerd/certs.d/a.example/hosts.toml', undefined, 'a'), change('/etc/containerd/certs.d/b.example/hosts.toml', undefined, 'b')], { root });
  writeFileSync(join(root, '/etc/containerd/certs.d/b.example/extra.crt'), 'operator file');
  const rb = rollback({ root });
  assert.deepEqual(rb.removedDirs, ['/etc/containerd/certs.d/a.example']);
  assert.equal(existsSync(join(root, '/etc/containerd/certs.d/a.example')), false);
  assert.equal(readFileSync(join(root, '/etc/containerd/certs.d/b.example/extra.crt'), 'utf8'), 'operator file');
});
