import { channel } from 'node:diagnostics_channel';

/**
 * Observer hooks the lower layers publish on and observability subscribes to: explicit, typed,
 * free when nobody listens, and no layer imports metrics code.
 */

/** What the upstream layer refused of an upstream: `{ upstream, reason }` (see upstream/events.ts). */
export const UPSTREAM_REFUSED = channel('regway:upstream:refused');
/** Storage failures: `{ code }` (errno code: ENOSPC, EROFS, EIO...). */
export const STORAGE_FAILED = channel('regway:storage:error');

/** Publishes a refusal of an upstream's answer (free when nobody listens). */
export function upstreamRefused(upstream: string, reason: string): void {
  if (UPSTREAM_REFUSED.hasSubscribers) UPSTREAM_REFUSED.publish({ upstream, reason });
}
