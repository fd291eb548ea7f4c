#!/usr/bin/env node
// Runs every *.test.ts with Node's test runner. Node 20 does not expand globs, so files are listed here.
//   --unit : only the tests beside the code (src/), no real servers, no type check.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const unitOnly = process.argv.includes('--unit');
const extra = process.argv.slice(2).filter((a) => a !== '--unit');

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...find(p));
    } else if (e.name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = extra.length > 0 ? extra : [...find(join(root, 'src')), ...(unitOnly ? [] : find(join(root, 'test')))].sort();
// tsx runs tests without type checking: check the whole tree (tests, bench, helpers too) first, and the formatting.
// The unit run skips it to stay fast (npm test and `npm run typecheck` do it).
if (extra.length === 0 && !unitOnly) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], { stdio: 'inherit', cwd: root });
  if (tsc.status !== 0) {
    process.stderr.write('type check failed (tsc --noEmit): fix the errors above\n');
    process.exit(tsc.status ?? 1);
  }
  // Formatting too, for the paths scripts/format.mjs lists: cheaper to fix before the slow suites than after.
  const fmt = spawnSync(process.execPath, [join(root, 'scripts', 'format.mjs'), '--check'], { stdio: 'inherit', cwd: root });
  if (fmt.status !== 0) process.exit(fmt.status ?? 1);
}
// Unit tests start no daemons and mostly wait on loading TypeScript: four files at a time pays even on 2 cores.
const args = ['--import', 'tsx', '--test', `--test-concurrency=${unitOnly ? 4 : 2}`, '--test-timeout=600000', ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
