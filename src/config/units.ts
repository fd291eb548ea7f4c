/** Parses "30s", "5m", "1h30m", "7d", "250ms" or a number of milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) { total += Number(m[1]) * unit[m[2]!]!; consumed = re.lastIndex; }
  if (consumed !== s.length || consumed === 0) throw new Error(`"${v}" is not a duration (use e.g. 500ms, 30s, 5m, 2h, 7d)`);
  return total;
}

/** Parses "10GiB", "500MB", "1.5G", "0" or a number of bytes. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(v);
  if (!m) throw new Error(`"${v}" is not a size (use e.g. 500MB, 20GiB, 1T)`);
  const u = (m[2] ?? '').toLowerCase().replace(/b$/, '');
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4, ki: 1, mi: 2, gi: 3, ti: 4 }[u];
  if (pow === undefined) throw new Error(`"${v}" has an unknown size unit`);
  const base = u.endsWith('i') || u.length === 1 ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** pow);
}
