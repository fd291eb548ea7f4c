// The parts of src/diagnose stay apart (docs/diagnose.md): common/ is the base, the image tools and trace stand on
// it alone, and only the doctor may reach into images/ (its manifest and blob checks use the image client).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const DIR = join(import.meta.dirname, '../../src/diagnose');
/** Parts a module in the key's folder must not import from. */
const FORBIDDEN: Record<string, string[]> = {
  common: ['doctor', 'images', 'trace'],
  images: ['doctor', 'trace'],
  trace: ['doctor', 'images'],
  doctor: ['trace'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('the parts of src/diagnose import only downwards', () => {
  const violations: string[] = [];
  const all = files(DIR);
  for (const f of all) {
    const part = relative(DIR, f).split('/')[0]!;
    if (!(part in FORBIDDEN)) violations.push(`${relative(DIR, f)} is outside doctor/, images/, trace/ and common/`);
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.\.?\/[^']+)'|import\('(\.\.?\/[^']+)'\)/g)) {
      const target = relative(DIR, join(f, '..', m[1] ?? m[2]!)).split('/')[0]!;
      if (FORBIDDEN[part]?.includes(target)) violations.push(`${relative(DIR, f)} imports ${m[1] ?? m[2]} (${part} -> ${target})`);
    }
  }
  assert.ok(all.length > 0);
  assert.deepEqual(violations, []);
});
