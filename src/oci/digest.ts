import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

/** Algorithms we can verify, with the exact hex length of their encoded part. */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof ALGORITHMS;

/** A validated digest. `encoded` is lowercase hex of the exact length: safe to use in a path. */
export interface Digest {
  readonly algorithm: Algorithm;
  readonly encoded: string;
  readonly value: string;
}

const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/**
 * Parses and validates a digest string. Anything that is not `sha256:<64 hex>` or `sha512:<128 hex>`
 * is refused with DIGEST_INVALID before it can reach a storage path.
 */
export function parseDigest(s: string): Digest {
  const m = DIGEST_RE.exec(s);
  if (!m) throw new RegistryError('DIGEST_INVALID', 'invalid digest format', { digest: s.slice(0, 200) });
  const algorithm = m[1]!;
  const encoded = m[2]!;
  if (!(algorithm in ALGORITHMS)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm "${algorithm.slice(0, 32)}"`, { digest: s.slice(0, 200) });
  }
  const len = ALGORITHMS[algorithm as Algorithm];
  if (encoded.length !== len || !/^[a-f0-9]+$/.test(encoded)) {
    throw new RegistryError('DIGEST_INVALID', `invalid ${algorithm} digest: expected ${len} lowercase hex characters`, { digest: s.slice(0, 200) });
  }
  return { algorithm: algorithm as Algorithm, encoded, value: s };
}

/**
 * Parses a digest named in a GET/HEAD path. One that follows the grammar but uses an algorithm we
 * cannot verify names content we can never serve: `notFound` (404), as the spec's table says for
 * reads, instead of parseDigest's DIGEST_INVALID (400, right for pushes).
 */
export function parseReadDigest(s: string, notFound: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'): Digest {
  const m = DIGEST_RE.exec(s);
  if (m && !(m[1]! in ALGORITHMS)) {
    throw new RegistryError(notFound, `digest algorithm "${m[1]!.slice(0, 32)}" is not supported here`, { digest: s.slice(0, 200) });
  }
  return parseDigest(s);
}

export function isDigest(s: string): boolean {
  try { parseDigest(s); return true; } catch { return false; }
}

export function hasher(alg: Algorithm): Hash {
  return createHash(alg);
}

export function digestOf(bytes: Uint8Array, alg: Algorithm = 'sha256'): string {
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
}
