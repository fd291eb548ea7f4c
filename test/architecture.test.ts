// The layers of docs/architecture.md, checked on every run, as an allow-list: each folder names
// the folders it may import, and any import loop, between folders or between files, fails. A new
// folder fails until it is given a row here (and in the document).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = 'src';

/** Folder -> the folders it may import (its own always). Bottom first. */
export const ALLOWED: Record<string, readonly string[]> = {
  oci: [],
  config: ['oci'],
  obs: ['config', 'oci'],
  limits: ['oci'],
  auth: ['config', 'oci'],
  store: ['config', 'oci', 'obs'],
  client: ['auth', 'config', 'oci', 'obs'],
  upstream: ['client', 'config', 'oci', 'obs'],
  cache: ['upstream', 'store', 'config', 'oci', 'obs'],
  hosted: ['store', 'config', 'oci', 'obs'],
  cluster: ['cache', 'store', 'limits', 'auth', 'config', 'oci', 'obs'],
  // Pull policy: a RepositoryReader over the others (signatures are read like any content).
  policy: ['config', 'oci'],
  gateway: ['hosted', 'auth', 'limits', 'config', 'oci', 'obs'],
  server: ['policy', 'gateway', 'cluster', 'cache', 'hosted', 'upstream', 'client', 'store', 'limits', 'auth', 'config', 'oci', 'obs'],
  runtimes: ['config', 'oci', 'obs'],
  diagnose: ['runtimes', 'upstream', 'client', 'auth', 'config', 'oci', 'obs'],
  controller: ['diagnose', 'config', 'oci', 'obs'],
  // Test support (memory gateway, scripted fake upstream, waitFor): no row names it, so only *.test.ts files reach it.
  testing: ['server', 'config', 'oci', 'obs'],
  cli: ['policy', 'server', 'controller', 'diagnose', 'runtimes', 'hosted', 'cache', 'store', 'auth', 'config', 'oci', 'obs'],
};

interface Edge { from: string; to: string; spec: string }

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.ts$/.test(e.name) && !/\.(test|suite)\.ts$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** Every relative import of the product code (type-only imports too: a type loop is a design loop). */
export function importEdges(root = SRC): Edge[] {
  const edges: Edge[] = [];
  for (const f of files(root)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)['"](\.\.?\/[^'"]+)['"]/gm)) {
      const to = relative(root, join(f, '..', m[1]!)).replace(/\.js$/, '.ts');
      edges.push({ from: relative(root, f), to, spec: m[1]! });
    }
  }
  return edges;
}

const folderOf = (file: string) => (file.includes('/') ? file.split('/')[0]! : '.');

/** Strongly connected components with more than one member (Tarjan): the loops of a graph. */
export function loops(edges: { from: string; to: string }[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    if (!graph.has(e.to)) graph.set(e.to, new Set());
    if (e.from !== e.to) graph.get(e.from)!.add(e.to);
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('every folder imports only what its row allows; every folder has a row', () => {
  const bad: string[] = [];
  const folders = new Set(readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name));
  for (const f of folders) if (!(f in ALLOWED)) bad.push(`src/${f}/ has no row in ALLOWED (and docs/architecture.md)`);
  for (const [f, allowed] of Object.entries(ALLOWED)) if (allowed.includes('testing')) bad.push(`${f} may import testing: only *.test.ts files may`);
  for (const e of importEdges()) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    if (!(ALLOWED[a] ?? []).includes(b)) bad.push(`src/${e.from} imports ${e.spec} (${a} -> ${b} is not allowed)`);
  }
  assert.deepEqual(bad, []);
});

test('no import loop between folders', () => {
  const folderEdges = importEdges().map((e) => ({ from: folderOf(e.from), to: folderOf(e.to) }));
  assert.deepEqual(loops(folderEdges), []);
});

test('no import loop between files', () => {
  assert.deepEqual(loops(importEdges()), []);
});

test('the checks see a planted loop (the test itself can fail)', () => {
  assert.deepEqual(loops([{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'd' }]), [['a', 'b', 'c']]);
  const planted = [...importEdges(), { from: 'cache/blobs.ts', to: 'cluster/peer.ts', spec: '../cluster/peer.js' }];
  const folderEdges = planted.map((e) => ({ from: folderOf(e.from), to: folderOf(e.to) }));
  assert.ok(loops(folderEdges).some((l) => l.includes('cache') && l.includes('cluster')), 'cache -> cluster would close a loop with cluster -> cache');
  assert.ok(!(ALLOWED.cache ?? []).includes('cluster'), 'and the allow-list refuses it on its own');
});
