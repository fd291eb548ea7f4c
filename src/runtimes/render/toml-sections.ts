// A line-level view of a TOML file, so registries.conf can be edited table by table and keep every comment and
// every table regway does not manage byte for byte. smol-toml parses values but drops comments, so it is used only to
// read values and to check the edited text (see registries-conf.ts); the edit itself happens on these sections.

export interface Section {
  /** Dotted table name (`registry`, `registry.mirror`, `aliases`); undefined for the lines before the first table. */
  name: string | undefined;
  /** `[[name]]` rather than `[name]`. */
  array: boolean;
  /** Leading comment lines attached to the header, the header, and the body up to the next section. */
  lines: string[];
}

const HEADER_RE = /^\s*(\[\[?)\s*([^\[\]]+?)\s*(\]\]?)\s*(#.*)?$/;

function normaliseName(raw: string): string {
  return raw
    .split('.')
    .map((p) =>
      p
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .replace(/^'(.*)'$/, '$1'),
    )
    .join('.');
}

/** Scanner state carried from line to line: open brackets of a multi-line array, an open multi-line string. */
interface ScanState {
  depth: number;
  multi: '"""' | "'''" | undefined;
}

/** Updates `st` with one line, ignoring brackets inside strings and comments. */
function scanLine(line: string, st: ScanState): void {
  let i = 0;
  while (i < line.length) {
    if (st.multi) {
      const end = line.indexOf(st.multi, i);
      if (end < 0) return;
      i = end + 3;
      st.multi = undefined;
      continue;
    }
    const c = line[i]!;
    if (c === '#') return;
    if (line.startsWith('"""', i) || line.startsWith("'''", i)) {
      st.multi = line.slice(i, i + 3) as '"""' | "'''";
      i += 3;
      continue;
    }
    if (c === '"' || c === "'") {
      i = skipString(line, i, c);
      continue;
    }
    if (c === '[') st.depth++;
    else if (c === ']') st.depth = Math.max(0, st.depth - 1);
    i++;
  }
}

function skipString(line: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < line.length) {
    if (quote === '"' && line[i] === '\\') {
      i += 2;
      continue;
    }
    if (line[i] === quote) return i + 1;
    i++;
  }
  return i;
}

/** Splits TOML text into sections. Joining every section's lines with '\n' gives the text back exactly. */
export function splitSections(text: string): Section[] {
  const out: Section[] = [];
  let cur: Section = { name: undefined, array: false, lines: [] };
  const st: ScanState = { depth: 0, multi: undefined };
  for (const line of text.split('\n')) {
    const m = st.depth === 0 && !st.multi ? HEADER_RE.exec(line) : null;
    if (m && (m[1] === '[[') === (m[3] === ']]')) {
      // A comment block directly above a header (no blank line between) describes that table and moves with it.
      const lead: string[] = [];
      while (cur.lines.length && /^\s*#/.test(cur.lines[cur.lines.length - 1]!)) lead.unshift(cur.lines.pop()!);
      out.push(cur);
      cur = { name: normaliseName(m[2]!), array: m[1] === '[[', lines: [...lead, line] };
      continue;
    }
    cur.lines.push(line);
    scanLine(line, st);
  }
  out.push(cur);
  return out;
}

/** Consecutive sections grouped so that a `[[registry]]` owns the `[[registry.mirror]]` tables after it. */
export function groupSections(sections: Section[], parent: string): Section[][] {
  const groups: Section[][] = [];
  for (const s of sections) {
    const last = groups[groups.length - 1];
    if (s.name?.startsWith(`${parent}.`) && last && last[0]!.name === parent) last.push(s);
    else groups.push([s]);
  }
  return groups;
}

/**
 * Replaces the top-level `key = value` assignment (which may span lines) in the preamble lines, or appends it when
 * absent. Returns new lines.
 */
export function setTopLevelKey(preamble: string[], key: string, line: string): string[] {
  const re = new RegExp(`^\\s*(["']?)${key.replace(/[-]/g, '\\-')}\\1\\s*=`);
  const start = preamble.findIndex((l) => re.test(l));
  if (start < 0) {
    let end = preamble.length;
    while (end > 0 && preamble[end - 1]!.trim() === '') end--;
    // Keep a comment block above (often the file's own header) visually apart from the new key.
    const sep = end > 0 && /^\s*#/.test(preamble[end - 1]!) ? [''] : [];
    return [...preamble.slice(0, end), ...sep, line, ...preamble.slice(end)];
  }
  const st: ScanState = { depth: 0, multi: undefined };
  let end = start;
  scanLine(preamble[start]!, st);
  while ((st.depth > 0 || st.multi) && end + 1 < preamble.length) {
    end++;
    scanLine(preamble[end]!, st);
  }
  return [...preamble.slice(0, start), line, ...preamble.slice(end + 1)];
}
