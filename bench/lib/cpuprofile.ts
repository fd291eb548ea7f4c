// Summarises a V8 .cpuprofile (what `npm run bench -- --cpu-prof DIR` writes) without DevTools:
// self time per function and per file or package, and inclusive time per function, optionally
// for a time window of the profile only (e.g. the warm-manifest phase).

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
/** The parts of the .cpuprofile JSON this reads. */
export interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface ProfileSummary {
  /** Milliseconds sampled in the window. */
  totalMs: number;
  /** [label, ms], largest first. */
  selfByFunction: [string, number][];
  selfByFile: [string, number][];
  /** Time with the function anywhere on the stack (counted once per sample). */
  inclusive: [string, number][];
}

/** `file:///x/node_modules/a/b.js` -> `a`; our own files keep their path from `src/` or `dist/` on. */
export function fileLabel(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const own = /\/(?:src|dist)\/(.*)$/.exec(url);
  return own ? own[1]! : url.replace(/^file:\/\//, '');
}

/** A function's file: as fileLabel, but the path inside a package is kept (`fastify/lib/reply.js`). */
function fileOf(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  return nm >= 0 ? url.slice(nm + 'node_modules/'.length) : fileLabel(url);
}
const fnLabel = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`;
const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v); };

/** Aggregates samples taken between fromSec and toSec after the profile started (pure). */
export function summarize(p: CpuProfile, fromSec = 0, toSec = Infinity): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = 0;
  let totalMs = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t / 1e6 < fromSec || t / 1e6 > toSec) return;
    self.set(id, (self.get(id) ?? 0) + dt / 1000);
    totalMs += dt / 1000;
  });
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    add(byFn, fnLabel(f), ms);
    add(byFile, fileLabel(f.url), ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const label = fnLabel(byId.get(cur)!.callFrame);
      if (!seen.has(label)) { seen.add(label); add(inclusive, label, ms); }
    }
  }
  return { totalMs, selfByFunction: sorted(byFn), selfByFile: sorted(byFile), inclusive: sorted(inclusive) };
}

/** The summary as text: the `top` largest of each table, in ms and percent of the window. */
export function formatSummary(s: ProfileSummary, top = 30): string {
  const table = (title: string, rows: [string, number][]) => [
    `== ${title} (${s.totalMs.toFixed(0)} ms sampled)`,
    ...rows.slice(0, top).map(([k, ms]) => `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / (s.totalMs || 1)).toFixed(1).padStart(5)} %  ${k}`),
  ].join('\n');
  return [table('self time by function', s.selfByFunction), table('self time by file or package', s.selfByFile), table('inclusive time by function', s.inclusive)].join('\n\n');
}
