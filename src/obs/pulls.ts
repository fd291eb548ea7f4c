import type { RequestEvent } from './events.js';

/**
 * A request event as every observer sees it: the raw event plus the one stateful judgement they
 * must share, "does this request start an image pull, and did that pull fail". Deciding it once,
 * here, is what keeps the audit log, the alerts, the metrics and the SLO from disagreeing.
 */
export interface ObservedEvent extends RequestEvent {
  /** This request starts an image pull (counted once per pull, whatever the client tool). */
  pull?: boolean;
  /** First failure (see `isServerFailure`) of a pull: on its manifest request or on a later request of the same pull. */
  pullFailed?: boolean;
}

/**
 * A failed request, as the SLO counts it: the gateway could not serve what exists. 5xx (our own
 * bugs, UPSTREAM_UNAVAILABLE when no upstream answered and nothing was cached), and 429 (an upstream's
 * rate limit passed on). A client's 404, 401, 403 or 400 is the right answer to a wrong request,
 * not a failure. A client that disconnects is not a failure either (it chose to).
 */
export function isServerFailure(e: Pick<RequestEvent, 'status' | 'errorCode'>): boolean {
  return e.status >= 500 || e.status === 429 || e.errorCode === 'UPSTREAM_UNAVAILABLE';
}

/** Tags cannot contain ':' (OCI tag grammar); digests always do. */
const isDigestRef = (ref: string | undefined): boolean => !!ref && ref.includes(':');

/**
 * The event plus the verdict, every field named (the type makes a forgotten one an error). Not a
 * spread: events hold a fractional duration (a double field), and V8 copies such objects in its
 * slow generic path; `{ ...e, pull: true }` cost a quarter of a warm manifest hit's CPU.
 */
function observed(e: RequestEvent, pull: true | undefined, pullFailed: true | undefined): ObservedEvent {
  const o: { [K in keyof Required<ObservedEvent>]: ObservedEvent[K] } = {
    time: e.time, operation: e.operation, method: e.method, status: e.status, durationMs: e.durationMs, bytes: e.bytes,
    clientIp: e.clientIp, user: e.user, userAgent: e.userAgent, registry: e.registry, repository: e.repository,
    reference: e.reference, digest: e.digest, cache: e.cache, upstream: e.upstream, errorCode: e.errorCode, policy: e.policy, aborted: e.aborted,
    redirect: e.redirect, redirectedBytes: e.redirectedBytes,
    pull, pullFailed,
  };
  return o;
}

interface Session {
  lastActive: number;
  /** Set when the pull began with a HEAD of this tag (containerd's resolve). */
  headTag?: string;
  /** Manifests already fetched (GET) in this pull. */
  fetched: Set<string>;
  failed: boolean;
}

/**
 * Counts every client tool's pull exactly once. What the tools send (see docs/observability.md):
 *   containerd  HEAD manifests/<tag>, GET manifests/<digest> (index), GET manifests/<child>, blobs
 *   dockerd     GET manifests/<tag>, GET manifests/<child digest>, blobs
 *   podman/skopeo GET manifests/<tag>, GET manifests/<child digest>, blobs
 *   by digest   (containerd) HEAD manifests/<d>, GET manifests/<d>; (others) GET manifests/<d>
 *
 * Rules, per (client address, registry, repository), with a session that ends after `sessionMs` of
 * silence:
 *   - a manifest request by tag (GET or HEAD) starts a pull, except a GET of the tag that the same
 *     session just HEADed with nothing fetched since (HEAD-then-GET clients);
 *   - a request by digest (GET or HEAD) starts a pull unless the session is live and has not fetched
 *     that digest yet (a child manifest, or containerd's GET after its HEAD); asking for a digest
 *     the session already fetched is a new pull, so a scripted loop still counts every iteration
 *     and containerd re-pulling an image it already has (a lone HEAD) counts too;
 *   - blob requests, tag lists... never start a pull (they extend a live session).
 */
export class PullClassifier {
  private readonly sessions = new Map<string, Session>();
  /** The session last moved to the end of `sessions` (the LRU order): moving it again changes nothing. */
  private newest: Session | undefined;
  private lastPrune = 0;

  constructor(private readonly sessionMs = 60_000, private readonly maxSessions = 100_000) {}

  classify(e: RequestEvent): ObservedEvent {
    if (e.operation !== 'manifest' && e.operation !== 'blob') return e;
    if (e.method !== 'GET' && e.method !== 'HEAD') return e;
    if (e.time - this.lastPrune > this.sessionMs) this.prune(e.time);
    const key = `${e.clientIp}\u0000${e.registry ?? ''}\u0000${e.repository ?? ''}`;
    const start = e.time - e.durationMs;
    const prev = this.sessions.get(key);
    let s = prev && start - prev.lastActive <= this.sessionMs ? prev : undefined;
    if (e.operation === 'blob') return s && this.continued(s, e) ? observed(e, undefined, true) : e;

    const ref = e.reference ?? '';
    const byDigest = isDigestRef(ref);
    let pull: boolean;
    if (!byDigest) pull = !(e.method === 'GET' && s && s.headTag === ref && s.fetched.size === 0);
    else pull = !s || s.fetched.has(e.digest ?? ref);

    if (pull || !s) { // (!s implies pull; spelled out for the type checker)
      // A new session, in the old one's object when there is one: a client pulling in a loop starts
      // a pull per request. Long-lived Maps and Sets are in V8's old generation, and there every
      // rehash or clear() allocates its new table: a delete + set per request grew the old heap by
      // megabytes a second (peak RSS), so the map is only touched when the order really changes.
      s = prev ?? { lastActive: 0, fetched: new Set(), failed: false };
      s.lastActive = e.time;
      if (s.fetched.size) s.fetched = new Set();
      s.failed = false;
      s.headTag = e.method === 'HEAD' ? ref : undefined;
      if (s !== this.newest) {
        this.sessions.delete(key);
        if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
        this.sessions.set(key, s);
        this.newest = s;
      }
    }
    if (e.method === 'GET' && e.status < 400) s.fetched.add(e.digest ?? ref);
    const failed = this.continued(s, e);
    return pull || failed ? observed(e, pull || undefined, failed || undefined) : e;
  }

  /** Extends the session; true when this request is the pull's first failure. */
  private continued(s: Session, e: RequestEvent): boolean {
    s.lastActive = Math.max(s.lastActive, e.time);
    if (!isServerFailure(e) || s.failed) return false;
    s.failed = true;
    return true;
  }

  private prune(now: number): void {
    this.lastPrune = now;
    // Keep idle sessions an hour longer than the merge window: a layer download that started inside
    // the pull can end (and fail) long after, and must still find its pull.
    for (const [k, s] of this.sessions) {
      if (now - s.lastActive > this.sessionMs + 3_600_000) { this.sessions.delete(k); if (s === this.newest) this.newest = undefined; }
    }
  }

  get size(): number { return this.sessions.size; }
}
