#!/usr/bin/env node
// Formats the TypeScript and scripts of the paths below with prettier (.prettierrc.json), or with --check fails when one
// is not formatted (npm test runs the check). Only these paths so far: formatting the whole tree at once would collide
// with work under way elsewhere in it; a folder joins the list once it is formatted.
//   node scripts/format.mjs [--check]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FORMATTED = [
  'src/cli',
  'src/controller',
  'src/diagnose',
  'src/runtimes',
  'src/config/atomic-write.ts',
  'src/config/atomic-write.test.ts',
  'scripts',
  'test/diagnose',
  'test/docs-errors.test.ts',
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Code only: golden files under testdata/ (JSON, YAML, TOML) are bytes the tests compare, never reformatted.
const patterns = FORMATTED.map((p) => (/\.(ts|mjs)$/.test(p) ? p : `${p}/**/*.{ts,mjs}`));
const check = process.argv.includes('--check');
const prettier = join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
const r = spawnSync(process.execPath, [prettier, check ? '--check' : '--write', '--log-level', check ? 'warn' : 'log', ...patterns], { stdio: 'inherit', cwd: root });
if (r.status !== 0 && check) process.stderr.write('not formatted: run `npm run format` (prettier, .prettierrc.json)\n');
process.exit(r.status ?? 1);
