import { RegistryError } from './errors.js';

export interface Range { start: number; end: number }

/**
 * Parses a single `Range: bytes=…` header against a known size (RFC 9110). Returns undefined to
 * serve the whole body (no header, or several ranges, which we are allowed to ignore); throws
 * RANGE_INVALID (416) when unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): Range | undefined {
  if (!header) return undefined;
  // RFC 9110 §14.2: a Range in a unit we do not know is ignored (the whole body), not refused.
  if (!/^\s*bytes\s*=/i.test(header)) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) {
    if (/^\s*bytes\s*=.*,/.test(header)) return undefined;
    throw unsatisfiable(size);
  }
  const [, a, b] = m;
  let start: number;
  let end: number;
  if (a === '') {
    if (b === '') throw unsatisfiable(size);
    const suffix = Number(b);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) throw unsatisfiable(size);
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size }, { headers: { 'content-range': `bytes */${size}` } });
}

/** A Content-Length header as a byte count; undefined when absent or not a plain decimal number. */
export function declaredLength(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}
