// Prints where a regway CPU profile spent its time, without DevTools:
//   node --import tsx bench/cpuprofile.ts /tmp/prof/CPU.<...>.cpuprofile [--from S] [--to S] [--top N]
// --from/--to keep the samples of one phase (seconds after the profile started).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatSummary, summarize, type CpuProfile } from './lib/cpuprofile.js';

const { values: f, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: node --import tsx bench/cpuprofile.ts FILE.cpuprofile [--from S] [--to S] [--top N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as CpuProfile;
const s = summarize(profile, Number(f.from ?? 0), f.to === undefined ? Infinity : Number(f.to));
process.stdout.write(`${formatSummary(s, Number(f.top ?? 30))}\n`);
