// A small line diff (LCS over the part between the common prefix and suffix) printed as a unified diff, so plan
// output reads like `diff -u` without adding a dependency. Config files are small; the quadratic table is fine.

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function editScript(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const x = a.slice(pre, a.length - suf);
  const y = b.slice(pre, b.length - suf);
  // lcs[i][j] = length of the LCS of x[i..] and y[j..]
  const lcs: Uint32Array[] = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Op[] = a.slice(0, pre).map((line) => ({ kind: ' ', line }));
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ kind: ' ', line: x[i]! });
      i++;
      j++;
    }
    // Deletions first on a tie, so a replaced line reads as - then +, like diff -u.
    else if (i < x.length && (j === y.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ kind: '-', line: x[i]! });
      i++;
    } else {
      ops.push({ kind: '+', line: y[j]! });
      j++;
    }
  }
  for (const line of a.slice(a.length - suf)) ops.push({ kind: ' ', line });
  return ops;
}

/** `diff -u`-style text; empty when the texts are equal. `undefined` stands for a file that does not exist. */
export function unifiedDiff(before: string | undefined, after: string | undefined, label: string, context = 3): string {
  if (before === after) return '';
  const ops = editScript(splitLines(before ?? ''), splitLines(after ?? ''));
  const out = [`--- ${before === undefined ? '/dev/null' : `a${label}`}`, `+++ ${after === undefined ? '/dev/null' : `b${label}`}`];
  const changed = ops.map((o, k) => (o.kind !== ' ' ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k]! - context);
    let end = changed[k]!;
    while (k < changed.length && changed[k]! - end <= 2 * context) {
      end = changed[k]!;
      k++;
    }
    const stop = Math.min(ops.length, end + context + 1);
    out.push(hunk(ops, start, stop));
  }
  if (changed.length === 0) out.push('(only the final newline differs)');
  return out.join('\n') + '\n';
}

function hunk(ops: Op[], start: number, stop: number): string {
  let aLine = 1;
  let bLine = 1;
  for (let k = 0; k < start; k++) {
    if (ops[k]!.kind !== '+') aLine++;
    if (ops[k]!.kind !== '-') bLine++;
  }
  const body = ops.slice(start, stop);
  const aLen = body.filter((o) => o.kind !== '+').length;
  const bLen = body.filter((o) => o.kind !== '-').length;
  const range = (s: number, n: number): string => `${n === 0 ? s - 1 : s},${n}`;
  return [`@@ -${range(aLine, aLen)} +${range(bLine, bLen)} @@`, ...body.map((o) => o.kind + o.line)].join('\n');
}
