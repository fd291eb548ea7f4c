// Child process for apply-crash.test.ts: applies N file changes under a root, announcing progress, so the parent can
// SIGKILL it at arbitrary moments. Arguments: ROOT N DELAY_MS (delay between files widens the windows).
import { applyChanges } from '../../src/runtimes/apply.js';
import type { FileChange } from '../../src/runtimes/plan.js';
import { oldText, newText } from './apply-fixture.js';

const [root, nArg, delayArg] = process.argv.slice(2);
const n = Number(nArg);
const delay = Number(delayArg);
const changes: FileChange[] = Array.from({ length: n }, (_, i) => ({
  target: 'docker-daemon', path: `/etc/f${i}.conf`, action: 'update', before: oldText(i), after: newText(i), mode: 0o644, sensitive: false,
}));
process.stdout.write('start\n');
applyChanges(changes, {
  root: root!,
  afterFile: (i) => { process.stdout.write(`wrote ${i}\n`); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay); },
});
process.stdout.write('done\n');
