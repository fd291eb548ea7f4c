import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load.js';
import { WELL_KNOWN_REGISTRIES } from './defaults.js';

const PUBLIC = Object.keys(WELL_KNOWN_REGISTRIES).sort();
const names = (c: { registries: Record<string, unknown> }): string[] => Object.keys(c.registries).sort();
function file(yaml: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'regway-load-')), 'regway.yaml');
  writeFileSync(p, yaml);
  return p;
}

test('nothing named: the embedded public registries', () => {
  assert.deepEqual(names(loadConfig(undefined)), PUBLIC);
});

test('--upstream flags are the whole list, like a config file (an air-gapped site keeps no public upstream)', () => {
  const c = loadConfig(undefined, { upstreams: ['docker.io=http://10.0.0.5:5000'] });
  assert.deepEqual(names(c), ['docker.io']);
  assert.equal(c.registries['docker.io']!.upstreams[0]!.url, 'http://10.0.0.5:5000');
  const f = loadConfig(file('registries:\n  ghcr.io:\n    upstreams: [{url: "http://10.0.0.6:5000"}]\n'));
  assert.deepEqual(names(f), ['ghcr.io']);
  // Flags add to (or replace registries of) the file.
  assert.deepEqual(names(loadConfig(file('registries:\n  ghcr.io:\n    upstreams: [{url: "http://10.0.0.6:5000"}]\n'), { upstreams: ['quay.io=http://10.0.0.7:5000'] })), ['ghcr.io', 'quay.io']);
});

test('the public registries on request: --default-registries or defaultRegistries: true; yours win over theirs', () => {
  const c = loadConfig(undefined, { upstreams: ['docker.io=http://10.0.0.5:5000'], defaultRegistries: true });
  assert.deepEqual(names(c), PUBLIC);
  assert.equal(c.registries['docker.io']!.upstreams[0]!.url, 'http://10.0.0.5:5000');
  const f = loadConfig(file('defaultRegistries: true\nregistries:\n  lab.example:5000:\n    upstreams: [{url: "http://lab.example:5000"}]\n'));
  assert.deepEqual(names(f), [...PUBLIC, 'lab.example:5000'].sort());
});

test('--no-default-registries: none, even with nothing named (a hosted-only registry)', () => {
  assert.deepEqual(names(loadConfig(undefined, { defaultRegistries: false })), []);
  assert.deepEqual(names(loadConfig(file('defaultRegistries: true\n'), { defaultRegistries: false })), []);
  assert.throws(() => loadConfig(file('defaultRegistries: "yes"\n')), (e: unknown) => e instanceof ConfigError && /defaultRegistries must be true or false/.test((e as Error).message));
});
