import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unifiedDiff } from './diff.js';
import { redact } from './plan.js';

test('unified diff with context and hunks', () => {
  const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'].join('\n') + '\n';
  const b = ['a', 'B', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'].join('\n') + '\n';
  assert.equal(unifiedDiff(a, b, '/f'), ['--- a/f', '+++ b/f', '@@ -1,5 +1,5 @@', ' a', '-b', '+B', ' c', ' d', ' e', '@@ -9,3 +9,4 @@', ' i', ' j', ' k', '+l', ''].join('\n'));
  assert.equal(unifiedDiff('x\n', 'x\n', '/f'), '');
  assert.equal(unifiedDiff(undefined, 'x\n', '/f'), '--- /dev/null\n+++ b/f\n@@ -0,0 +1,1 @@\n+x\n');
  assert.equal(unifiedDiff('x\n', undefined, '/f'), '--- a/f\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
});

test('plans never print credentials, but a changed credential still shows', () => {
  const r = redact('{"auths":{"a":{"auth":"c2VjcmV0"}}}\n  .dockerconfigjson: eyJhIjoxfQ==\n');
  assert.doesNotMatch(r, /c2VjcmV0|eyJhIjoxfQ/);
  assert.notEqual(redact('"auth": "YQ=="'), redact('"auth": "Yg=="'));
});

test('the plan ends with the apply command for the same tree and file', async () => {
  const { applyHint, formatPlan } = await import('./plan.js');
  assert.equal(applyHint('/', 'regway-config.yaml'), 'regway config apply');
  assert.equal(applyHint('/mnt/node1', 'site.yaml'), 'regway config apply --root /mnt/node1 -f site.yaml');
  assert.equal(applyHint('/mnt/my node', 'regway-config.yaml'), "regway config apply --root '/mnt/my node'");
  const plan = {
    changes: [{ target: 'docker-daemon' as const, path: '/etc/docker/daemon.json', action: 'create' as const, before: undefined, after: '{}\n', mode: 0o644, sensitive: false }],
    unchanged: [],
    warnings: [],
  };
  assert.match(formatPlan(plan, '/mnt/node1', 'site.yaml'), /run `regway config apply --root \/mnt\/node1 -f site\.yaml` to write them/);
});
