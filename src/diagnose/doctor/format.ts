// Human output of the doctor. Pure: a report in, lines out; the CLI decides where they go.
import type { DoctorReport, Finding, Severity } from './types.js';

const MARK: Record<Severity, string> = { ok: '  ok ', info: ' info', warn: ' WARN', error: 'ERROR' };

export function formatFinding(f: Finding, color = false): string {
  const paint = (s: string): string => {
    if (!color) return s;
    const c = f.severity === 'error' ? 31 : f.severity === 'warn' ? 33 : f.severity === 'ok' ? 32 : 36;
    return `\x1b[${c}m${s}\x1b[0m`;
  };
  const ms = f.durationMs !== undefined ? ` (${f.durationMs < 10 ? f.durationMs.toFixed(1) : Math.round(f.durationMs)} ms)` : '';
  const pad = ' '.repeat(21);
  const lines = [`${paint(MARK[f.severity])} ${f.stage.padEnd(14)} ${f.code}: ${f.title}${ms}`, `${pad}${f.detail}`];
  // An ok finding needs no explanation; anything else says what the code means before what to do.
  if (f.meaning && f.severity !== 'ok') lines.push(`${pad}means: ${f.meaning}`);
  if (f.fix && (f.severity === 'warn' || f.severity === 'error')) lines.push(`${pad}fix: ${f.fix}`);
  return lines.join('\n');
}

export function formatSummary(r: DoctorReport): string {
  const n = (s: Severity): number => r.findings.filter((f) => f.severity === s).length;
  return `${r.target}: worst ${r.worst.toUpperCase()} — ${n('error')} error(s), ${n('warn')} warning(s), ${r.findings.length} finding(s) in ${r.durationMs} ms`;
}
