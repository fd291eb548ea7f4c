// `regway controller` command line: --help with examples, and flag errors that say what to fix.
// Running it as a process against a real API server (Lease, metrics, SIGTERM): rbac.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/proc.js';

const script = fileURLToPath(new URL('./run-cli.ts', import.meta.url));

test('regway controller --help shows examples', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', script, 'controller', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Examples:\n\s+regway controller/);
  assert.match(r.stdout, /--pull-secret <name>/);
  assert.match(r.stdout, /--lease-duration <duration>/);
});

test('lease timings that would let two replicas act at once are refused before anything starts', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const r = await run(process.execPath, ['--import', 'tsx', main, 'controller', '--kubeconfig', '/nonexistent', '--lease-duration', '2s', '--renew-deadline', '3s'], { timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--retry-period 2s < --renew-deadline 3s < --lease-duration 2s must hold/);
});
