// The dependency direction of docs/architecture.md, checked on every run:
// cli -> {gateway, runtimes, diagnose, controller} -> {cache -> store, upstream -> client -> auth} -> {config, obs} -> oci.
// Lower layers never import higher ones; nothing imports cli; oci imports nothing of ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = 'src';
/** Layers a module in the key's folder must not import from. */
const FORBIDDEN: Record<string, string[]> = {
  oci: ['config', 'auth', 'client', 'upstream', 'store', 'cache', 'gateway', 'obs', 'cluster', 'hosted', 'runtimes', 'diagnose', 'controller', 'cli'],
  config: ['auth', 'client', 'upstream', 'store', 'cache', 'gateway', 'cluster', 'hosted', 'runtimes', 'diagnose', 'controller', 'cli'],
  auth: ['client', 'upstream', 'store', 'cache', 'gateway', 'cluster', 'runtimes', 'diagnose', 'controller', 'cli'],
  client: ['store', 'cache', 'gateway', 'cluster', 'hosted', 'runtimes', 'diagnose', 'controller', 'cli'],
  upstream: ['store', 'cache', 'gateway', 'cluster', 'hosted', 'runtimes', 'diagnose', 'controller', 'cli'],
  store: ['client', 'upstream', 'cache', 'gateway', 'cluster', 'runtimes', 'diagnose', 'controller', 'cli'],
  cache: ['gateway', 'runtimes', 'diagnose', 'controller', 'cli'],
  runtimes: ['gateway', 'cache', 'cluster', 'controller', 'cli'],
  diagnose: ['gateway', 'cache', 'cluster', 'controller', 'cli'],
  controller: ['gateway', 'cache', 'cluster', 'cli'],
  gateway: ['cli', 'runtimes', 'controller'],
  obs: ['cli', 'runtimes', 'diagnose', 'controller'],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
}

test('imports follow the dependency direction of docs/architecture.md', () => {
  const violations: string[] = [];
  for (const f of files(SRC)) {
    const layer = relative(SRC, f).split('/')[0]!;
    const banned = new Set([...(FORBIDDEN[layer] ?? []), ...(layer === 'cli' ? [] : ['cli'])]);
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.\.?\/[^']+)'|import\('(\.\.?\/[^']+)'\)/g)) {
      const target = relative(SRC, join(f, '..', m[1] ?? m[2]!)).split('/')[0]!;
      if (target !== layer && banned.has(target)) violations.push(`${f} imports ${m[1] ?? m[2]} (${layer} -> ${target})`);
    }
  }
  assert.deepEqual(violations, []);
});
