// A clean `npm ci` must print no EBADENGINE warning: every installed package has to accept every
// Node version package.json allows. Checked on the lockfile (deterministic, offline): npm warns
// from the same `engines` fields, and semver.subset asks exactly "is our range inside theirs".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import semver from 'semver';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };

test('every locked package accepts every Node version package.json allows', () => {
  const ours = pkg.engines.node;
  assert.ok(semver.validRange(ours), `package.json engines.node "${ours}" is a valid range`);
  assert.ok(semver.satisfies(process.version, ours), `this Node (${process.version}) is inside ${ours}`);
  const refused: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
    if (!path || !range) continue;
    if (!semver.validRange(range) || !semver.subset(ours, range)) refused.push(`${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${range}`);
  }
  assert.deepEqual(refused, [], `these would make npm ci warn EBADENGINE for some Node in ${ours}; override them to versions that accept it (package.json "overrides")`);
  assert.equal((lock.packages[''] as { engines?: { node?: string } }).engines?.node, ours, 'the lockfile was regenerated after the engines change');
});
