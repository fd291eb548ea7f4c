import { UPSTREAM_REFUSED } from '../obs/channels.js';

/**
 * What the upstream layer refused of an upstream, published on a diagnostics channel: an explicit
 * observer hook (metrics subscribe to it) that keeps the upstream layer free of metrics code.
 *
 * Reasons: `realm_downgrade` (an https upstream's token realm on http), `realm_foreign_host`
 * (credentials withheld from a realm on another host), `redirect_refused`, `bad_media_type`,
 * `digest_mismatch`, `size_mismatch`, `not_a_manifest`, `too_large`, `body_error` (reset, cut
 * short or stalled body).
 */
export interface RefusalEvent { upstream: string; reason: string }

export function upstreamRefused(upstream: string, reason: string): void {
  if (UPSTREAM_REFUSED.hasSubscribers) UPSTREAM_REFUSED.publish({ upstream, reason } satisfies RefusalEvent);
}
