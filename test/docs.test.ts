// The repository stands alone: no document or comment points at a file outside it (a development
// machine's path, a sibling checkout, a reference document nobody else has), and every relative
// link in the Markdown documents leads to a file that exists here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SKIP = new Set(['node_modules', 'dist', '.git', '.tmp', 'test-output', 'testdata']);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : /\.(md|ts|mjs|yaml|sh|service)$|^Containerfile$|^run$/.test(e.name) ? [p] : [];
  });
}
const files = [join(ROOT, 'README.md'), ...['docs', 'src', 'test', 'bench', 'deploy', 'scripts', '.ci'].flatMap((d) => walk(join(ROOT, d)))];

test('nothing points outside the repository', () => {
  // Built from pieces so this file does not match itself.
  const outside = [['..', '/shared/'].join(''), ['/wo', 'rk/'].join(''), ['client-config', '.md'].join(''), ['DESIGN', '.md'].join(''), ['docs/ref', 'erence/'].join('')];
  // The CI script and the test helper that start the real Kubernetes control plane may name the
  // machine's tool bundle (an environment variable overrides it); nothing a user reads may.
  const toolBundle = new Set(['.ci/run', 'test/helpers/kube.ts']);
  const hits = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').flatMap((line, i) =>
    outside.filter((o) => line.includes(o) && !(toolBundle.has(relative(ROOT, f)) && /k8s-tools/.test(line))).map((o) => `${relative(ROOT, f)}:${i + 1}: ${o}`)));
  assert.deepEqual(hits, []);
});

test('every relative link in the Markdown documents exists', () => {
  const broken: string[] = [];
  for (const f of files.filter((x) => x.endsWith('.md'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:, file:
      if (!existsSync(resolve(dirname(f), target))) broken.push(`${relative(ROOT, f)}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});
