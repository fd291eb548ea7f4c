import { STORAGE_FAILED } from '../obs/channels.js';
import { RegistryError } from '../oci/errors.js';


const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * The client-facing error for a storage failure: 507 STORAGE_FULL when the disk or quota is full,
 * else 500 STORAGE_ERROR. Names the storage, never an upstream: it is not the upstream's fault.
 */
export function storageError(e: Error): RegistryError {
  const code = codeOf(e);
  if (FULL.has(code)) return new RegistryError('STORAGE_FULL', `the gateway's storage is full (${code}); free space or lower storage.maxSize so eviction keeps room`, { code });
  return new RegistryError('STORAGE_ERROR', `the gateway's storage failed (${code}): ${e.message.slice(0, 200)}`, { code });
}

function codeOf(e: Error): string {
  return (e as { code?: string }).code ?? (e as { name?: string }).name ?? 'unknown';
}

/** Counts a storage failure (once per failed write, however many clients it fails). */
export function storageFailed(e: Error): void {
  if (STORAGE_FAILED.hasSubscribers) STORAGE_FAILED.publish({ code: codeOf(e) });
}
