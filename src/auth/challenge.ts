/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge { scheme: string; params: Record<string, string> }

/**
 * Parses a WWW-Authenticate header, including several challenges in one header and quoted
 * values with commas (`scope="repository:a:pull,push"`).
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const raw = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)|\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
  let cur: Challenge | undefined;
  let m: RegExpExecArray | null;
  let last = 0;
  while (last < raw.length && (m = re.exec(raw))) {
    last = re.lastIndex;
    if (m[1] !== undefined && !/=/.test(raw.slice(last, last + 1))) {
      cur = { scheme: m[1].toLowerCase(), params: {} };
      out.push(cur);
    } else if (m[2] !== undefined && cur) {
      cur.params[m[2].toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '');
    }
    if (m[0] === '') break;
  }
  return out;
}

export function bearerChallenge(header: string | string[] | undefined): Challenge | undefined {
  return parseChallenges(header).find((c) => c.scheme === 'bearer');
}
