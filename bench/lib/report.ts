// Writes a run's results: JSON under bench/results/ and the generated block of docs/benchmarks.md.
import { cpus, release, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './options.js';
import { formatMarkdown, spliceGenerated, type Row } from './table.js';

export interface Machine { nproc: number; cpu: string; memGB: number; node: string; kernel: string }

export function machine(): Machine {
  const c = cpus();
  return { nproc: c.length, cpu: c[0]?.model.trim() ?? 'unknown', memGB: Math.round(totalmem() / 1e9), node: process.version, kernel: release() };
}

/** The command that reproduces a run, as typed at the shell. */
export function commandLine(argv: string[]): string {
  return argv.length ? `npm run bench -- ${argv.join(' ')}` : 'npm run bench';
}

export function writeJson(root: string, stamp: string, data: unknown): string {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

const DOC_HEAD = `# Benchmarks

How regway's pull path compares with CNCF distribution's proxy mode, with nginx serving the same
blob files as the ceiling. See the methodology below the generated table.
`;

/** The generated block: when, where, how it was run, and the table. */
export function markdownBlock(rows: Row[], o: BenchOptions, m: Machine, when: Date, argv: string[]): string {
  return [
    `Last run: ${when.toISOString()} on ${m.nproc} CPUs (${m.cpu}), ${m.memGB} GB RAM, Linux ${m.kernel}, Node ${m.node}.`,
    '',
    `Command: \`${commandLine(argv)}\``,
    '',
    `Image: ${o.layers} layers x ${(o.layerSize / 1e6).toFixed(0)} MB; cold pull: ${o.clients} clients, ${o.pullParallel} parallel downloads each; ` +
      `load runs: ${o.durationSec} s per target in ${o.rounds} interleaved rounds after ${o.warmupSec} s warm-up, wrk ${o.threads} threads, ${o.manifestConnections} connections (manifests), ${o.blobConnections} (blobs); nginx worker_processes ${o.nginxWorkers}.`,
    '',
    formatMarkdown(rows),
  ].join('\n');
}

/** Rewrites only the generated block of docs/benchmarks.md, keeping the hand-written text. */
export function updateDocs(root: string, block: string): string {
  const file = join(root, 'docs', 'benchmarks.md');
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : DOC_HEAD;
  writeFileSync(file, spliceGenerated(doc, block));
  return file;
}
