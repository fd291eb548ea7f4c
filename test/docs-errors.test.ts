// docs/errors.md lists exactly the codes of the catalogue (src/oci/errors.ts) with their status, exit status and
// description: a code added, removed or reworded without regenerating the page fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EXIT } from '../src/cli/run.js';
import { ERROR_CATALOGUE } from '../src/oci/errors.js';
import { ERRORS_PAGE, withTable } from '../scripts/errors-doc.js';

const page = readFileSync(ERRORS_PAGE, 'utf8');
const REGEN = 'regenerate it: node --import tsx scripts/errors-doc.ts';

test('docs/errors.md lists every code of the catalogue, and no other', () => {
  const listed = [...page.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  const codes = Object.keys(ERROR_CATALOGUE);
  assert.deepEqual(
    codes.filter((c) => !listed.includes(c)),
    [],
    `codes missing from docs/errors.md; ${REGEN}`,
  );
  assert.deepEqual(
    listed.filter((c) => !codes.includes(c)),
    [],
    `docs/errors.md lists codes that do not exist; ${REGEN}`,
  );
  assert.equal(new Set(listed).size, listed.length, 'a code is listed twice');
});

test("docs/errors.md's table is the catalogue's, status, exit status and description included", () => {
  assert.equal(page, withTable(page), `docs/errors.md is stale; ${REGEN}`);
});

test('every entry has a description and an exit status the CLI defines', () => {
  for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
    assert.ok(e.description.length > 40, `${code} needs a description: when it happens and what to do`);
    assert.ok((Object.values(EXIT) as number[]).includes(e.exit), `${code}: exit ${e.exit} is not one of cli/run.ts's EXIT`);
  }
  assert.equal(ERROR_CATALOGUE.UPSTREAM_UNAVAILABLE.exit, EXIT.upstream);
});
