import type { PolicyDecision } from '../oci/registry.js';

/**
 * One event per request that matters, emitted by the gateway when the response ends. The audit
 * log, metrics, anomaly detector and SLO tracker all consume these (and only these), so they can
 * never disagree about what happened.
 */
export type Operation =
  | 'ping' | 'manifest' | 'blob' | 'tags' | 'catalog' | 'referrers'
  | 'upload' | 'manifest_put' | 'delete' | 'token' | 'peer_blob' | 'other';

export interface RequestEvent {
  time: number;
  operation: Operation;
  method: string;
  status: number;
  durationMs: number;
  /** Bytes of body sent to the client. */
  bytes: number;
  clientIp: string;
  user?: string;
  userAgent?: string;
  registry?: string;
  repository?: string;
  /** Tag or digest as the client asked. */
  reference?: string;
  digest?: string;
  cache?: 'hit' | 'miss' | 'coalesced' | 'stale' | 'revalidated';
  upstream?: string;
  errorCode?: string;
  /** A pull policy's decision on this manifest (docs/policy.md). */
  policy?: PolicyDecision;
  /** True when the client went away before the response ended. */
  aborted?: boolean;
  /** A blob GET answered with a 307 (docs/redirects.md): where the client fetches the bytes instead. */
  redirect?: 'presigned' | 'cdn';
  /** Bytes the client fetches from the redirect target (the blob, or its range): not sent by regway. */
  redirectedBytes?: number;
}

/** Anything that wants request events. Must not block or throw: it runs on the response path. */
export interface EventSink {
  record(e: RequestEvent): void;
}

/** Fans events out to several sinks; a failing sink never affects the others or the request. */
export class EventBus implements EventSink {
  private readonly sinks: EventSink[] = [];
  add(s: EventSink): void { this.sinks.push(s); }
  record(e: RequestEvent): void {
    for (const s of this.sinks) { try { s.record(e); } catch { /* a sink's bug must not fail a pull */ } }
  }
}
