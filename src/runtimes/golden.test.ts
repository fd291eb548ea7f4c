// Golden tests for every renderer: testdata/<case>/{spec.yaml,in/} is a node tree, out/ holds the expected files
// (a `<file>.deleted` marker for a removal) and warnings.txt the expected warnings. Each case is also rendered a
// second time over its own output, which must change nothing (apply is idempotent).
// Regenerate after an intended change with: REGWAY_UPDATE_GOLDEN=1 node --import tsx --test src/runtimes/golden.test.ts
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveCredentials } from './credentials.js';
import { buildPlan } from './plan.js';
import { parseSpec } from './spec.js';
import { readSnapshot, renderAll, type NodeSnapshot } from './targets.js';

const dataDir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = !!process.env['REGWAY_UPDATE_GOLDEN'];
const env = { PW: 's3:cr&t<pw>', HUB_PW: 'hub-pass' };

function applyToSnapshot(snap: NodeSnapshot, files: Array<{ path: string; text: string | null }>): NodeSnapshot {
  const next = new Map(snap.files);
  const certs = new Map(snap.certsDirs);
  for (const f of files) {
    if (f.text === null) next.delete(f.path);
    else next.set(f.path, f.text);
    const m = /\/certs\.d\/([^/]+)\/hosts\.toml$/.exec(f.path);
    if (m) certs.set(m[1]!, f.text ?? undefined);
  }
  return { files: next, certsDirs: certs, dropIns: snap.dropIns };
}

for (const name of readdirSync(dataDir).filter((n) => existsSync(join(dataDir, n, 'spec.yaml')))) {
  test(`golden: ${name}`, async () => {
    const dir = join(dataDir, name);
    const spec = parseSpec(readFileSync(join(dir, 'spec.yaml'), 'utf8'));
    const creds = await resolveCredentials(spec, {
      env,
      readFile: () => {
        throw new Error('unused');
      },
    });
    const snap = readSnapshot(join(dir, 'in'), spec);
    const results = renderAll(spec, creds, snap);
    const warnings = results.flatMap((r) => r.warnings.map((w) => `${r.target}: ${w}`)).join('\n') + '\n';
    const plan = buildPlan(results, snap);
    for (const c of plan.changes) {
      const out = join(dir, 'out', c.after === null ? `${c.path}.deleted` : c.path);
      if (update) {
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, c.after ?? '');
        continue;
      }
      assert.ok(existsSync(out), `${name}: unexpected change to ${c.path} (${c.action})`);
      assert.equal(c.after ?? '', readFileSync(out, 'utf8'), `${name}: ${c.path}`);
    }
    if (update) writeFileSync(join(dir, 'warnings.txt'), warnings);
    else assert.equal(warnings, readFileSync(join(dir, 'warnings.txt'), 'utf8'), `${name}: warnings`);
    // Every expected file must have been produced.
    const expected = listFiles(join(dir, 'out')).map((p) => p.replace(/\.deleted$/, ''));
    assert.deepEqual(plan.changes.map((c) => c.path).sort(), expected.sort(), `${name}: set of changed files`);
    // Idempotence: rendering over the result changes nothing.
    const again = buildPlan(
      renderAll(
        spec,
        creds,
        applyToSnapshot(
          snap,
          plan.changes.map((c) => ({ path: c.path, text: c.after })),
        ),
      ),
      applyToSnapshot(
        snap,
        plan.changes.map((c) => ({ path: c.path, text: c.after })),
      ),
    );
    assert.deepEqual(
      again.changes.map((c) => c.path),
      [],
      `${name}: a second apply would change files`,
    );
  });
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}/${e.name}`) : [`${prefix}/${e.name}`]));
}
