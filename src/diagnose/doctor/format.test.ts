import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finding, FINDINGS } from './findings.js';
import { formatFinding } from './format.js';

test('each finding carries what its code means, in --json and in the human output', () => {
  const f = finding('SCHEME_HTTP_ONLY', 'http-scheme', 'reg:5000 answered plain HTTP', { severity: 'warn' });
  assert.equal(f.meaning, FINDINGS.SCHEME_HTTP_ONLY.meaning);
  assert.match(JSON.stringify(f), /"meaning":"The port answers plain HTTP/);
  const text = formatFinding(f);
  assert.match(text, /\n {21}means: The port answers plain HTTP; HTTPS clients fail/);
  assert.match(text, /\n {21}fix: Serve TLS/);
  // ok findings stay one line of detail: nothing to explain.
  assert.doesNotMatch(formatFinding(finding('TCP_OK', 'tcp', 'connected')), /means:/);
  // For every code the catalogue has a meaning to show.
  for (const [code, spec] of Object.entries(FINDINGS)) assert.ok(spec.meaning.length > 20, code);
});
