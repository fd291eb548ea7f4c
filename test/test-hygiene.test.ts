// Tests wait for what they check, never for a fixed time (issue 14): on a busy 2-core machine any
// sleep used as synchronisation is sometimes too short, and always too long. This scans the test
// code for sleeps and fails on any that does not say why the elapsed time itself is under test.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const MARK = 'the time is the subject';

/**
 * A sleep: a timer whose only job is to resolve a promise (the resolver, or an arrow calling it, as
 * the callback), a call to something named sleep, or node:timers/promises. A timer that gives up on
 * something (a `done` callback beside the events that end the wait) is a deadline, not a sleep.
 */
const SLEEP = [
  /\bsetTimeout\(\s*(r|res|resolve)\s*,/,
  /\bsetTimeout\(\s*\(\)\s*=>\s*(r|res|resolve)\(\)\s*,/,
  /\bsleep\(/,
  /['"]node:timers\/promises['"]/,
];

/** The one place allowed to sleep: the polling helper itself. */
const EXEMPT = new Set(['src/testing/wait.ts']);

function walk(dir: string, keep: (rel: string) => boolean, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (keep(relative(ROOT, p))) out.push(relative(ROOT, p));
  }
  return out;
}

/** Test files and shared suites anywhere, everything under test/ (helpers, fixtures, setup), and src/testing/. */
function testCode(): string[] {
  const isTs = (f: string) => f.endsWith('.ts') && !f.endsWith('.d.ts');
  return [
    ...walk(join(ROOT, 'src'), (f) => isTs(f) && (f.endsWith('.test.ts') || f.endsWith('.suite.ts') || f.startsWith('src/testing/'))),
    ...walk(join(ROOT, 'test'), isTs),
  ].filter((f) => !EXEMPT.has(f)).sort();
}

it(`no sleep in test code unless the same or the previous line says "${MARK}"`, () => {
  const files = testCode();
  assert.ok(files.length > 50, `found only ${files.length} test files: is ROOT (${ROOT}) right?`);
  const bare: string[] = [];
  for (const f of files) {
    const lines = readFileSync(join(ROOT, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!SLEEP.some((re) => re.test(line))) return;
      if (line.includes(MARK) || (i > 0 && lines[i - 1]!.includes(MARK))) return;
      bare.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bare, [], [
    'A sleep in test code waits for a fixed time. If it waits for something to happen (a server up, a',
    'log line, a counter, a file, a lease, a sync), poll that state with waitFor(cond, what, ms) from',
    'src/testing/wait.ts (unit tests) or test/helpers/wait.ts. If the elapsed time IS what the test',
    `exercises (a TTL, a refill, a cooldown, a slow client), keep it and write "// ${MARK}: <why>"`,
    'on the same line or the line before. Bare sleeps found:',
    ...bare,
  ].join('\n'));
});
