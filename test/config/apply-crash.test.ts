// An apply killed at any instant (SIGKILL, no chance to clean up) leaves every file either old or new, never torn,
// never missing; and when the backup set's manifest exists, rollback brings every file back to old.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listBackupSets, rollback } from '../../src/runtimes/apply.js';
import { newText, oldText } from './apply-fixture.js';

const N = 6;
const child = fileURLToPath(new URL('./apply-child.ts', import.meta.url));

function freshRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'regway-crash-'));
  mkdirSync(join(root, 'etc'));
  for (let i = 0; i < N; i++) writeFileSync(join(root, `etc/f${i}.conf`), oldText(i));
  return root;
}

/** Runs the child and SIGKILLs it `killAfterMs` after it announced `start`; resolves with what it printed. */
function runAndKill(root: string, killAfterMs: number, delayMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, root, String(N), String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      const first = !out.includes('start');
      out += b.toString();
      if (first && out.includes('start')) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.on('exit', () => resolve(out));
  });
}

function states(root: string): string[] {
  return Array.from({ length: N }, (_, i) => {
    const t = readFileSync(join(root, `etc/f${i}.conf`), 'utf8');
    return t === oldText(i) ? 'old' : t === newText(i) ? 'new' : 'TORN';
  });
}

test('SIGKILL at any moment of an apply leaves each file old or new, and rollback restores old', async () => {
  const seen = new Set<string>();
  // Kill times spread over the whole run: before the backup is durable, between files, and mid-write.
  const delays = [0, 1, 3, 5, 8, 12, 20, 30, 45, 60, 80, 100, 130, 160, 200];
  // On a loaded machine the child runs slower: keep stretching the kill time until the kills have
  // landed in at least three different places (or the apply ran to the end).
  for (let later = 300; later <= 8000; later = Math.round(later * 1.5)) delays.push(later);
  for (const killAfter of delays) {
    if (killAfter > 200 && (seen.size >= 3 || seen.has(Array(N).fill('new').join(',')))) break;
    const root = freshRoot();
    const out = await runAndKill(root, killAfter, 25);
    const s = states(root);
    assert.ok(!s.includes('TORN'), `kill after ${killAfter}ms left a torn file: ${s.join(',')}`);
    seen.add(s.join(','));
    const wrote = (out.match(/wrote \d+/g) ?? []).length;
    // Files are replaced in order: all new ones come first, and at least the announced ones are new.
    const firstOld = s.indexOf('old');
    assert.ok(firstOld === -1 || s.slice(firstOld).every((x) => x === 'old'), s.join(','));
    assert.ok(s.filter((x) => x === 'new').length >= wrote, `${wrote} announced, states ${s.join(',')}`);
    if (s.includes('new')) assert.equal(listBackupSets(root).length, 1, 'a file changed before the backup set existed');
    if (listBackupSets(root).length) {
      rollback({ root });
      assert.deepEqual(states(root), Array(N).fill('old'), `rollback after kill at ${killAfter}ms`);
    }
  }
  // The kills really landed in different places (otherwise the test proves little).
  assert.ok(seen.size >= 3, `only saw ${[...seen].join(' | ')}`);
});
