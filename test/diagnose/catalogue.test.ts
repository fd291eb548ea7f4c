// Proof obligation of the doctor: every code in the findings catalogue is produced by some scenario. This test reads
// the scenario files and fails when a code is asserted nowhere, so a new code cannot land without its scenario.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FINDINGS } from '../../src/diagnose/doctor/index.js';

test('every finding code is asserted by a scenario test', () => {
  const dir = new URL('.', import.meta.url).pathname;
  const scenarios = readdirSync(dir)
    .filter((f) => /^doctor-.*\.test\.ts$/.test(f))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
  // The runner's crash guard is proven in src/diagnose/doctor/runner.test.ts with a check that throws.
  scenarios.push(readFileSync(join(dir, '../../src/diagnose/doctor/runner.test.ts'), 'utf8'));
  // The POLICY_* findings are asserted where the policy's images and gateway are built (real reports, real pulls).
  scenarios.push(readFileSync(join(dir, '../policy/vuln-pulls.test.ts'), 'utf8'));
  const text = scenarios.join('\n');
  const missing = Object.keys(FINDINGS).filter((c) => !new RegExp(`['"]${c}['"]`).test(text));
  assert.deepEqual(missing, [], `codes without a scenario: ${missing.join(', ')}`);
});
