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
  private lastPrune = 0;

  constructor(private readonly sessionMs = 60_000, private readonly maxSessions = 100_000) {}

  classify(e: RequestEvent): ObservedEvent {
    if (e.operation !== 'manifest' && e.operation !== 'blob') return e;
    if (e.method !== 'GET' && e.method !== 'HEAD') return e;
    if (e.time - this.lastPrune > this.sessionMs) this.prune(e.time);
    const key = `${e.clientIp}\u0000${e.registry ?? ''}\u0000${e.repository ?? ''}`;
    const start = e.time - e.durationMs;
    let s = this.sessions.get(key);
    if (s && start - s.lastActive > this.sessionMs) s = undefined;
    if (e.operation === 'blob') return s ? this.continued(s, e) : e;

    const ref = e.reference ?? '';
    const byDigest = isDigestRef(ref);
    let pull: boolean;
    if (!byDigest) pull = !(e.method === 'GET' && s && s.headTag === ref && s.fetched.size === 0);
    else pull = !s || s.fetched.has(e.digest ?? ref);

    if (pull || !s) { // (!s implies pull; spelled out for the type checker)
      s = { lastActive: e.time, fetched: new Set(), failed: false, ...(e.method === 'HEAD' ? { headTag: ref } : {}) };
      this.sessions.delete(key);
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
      this.sessions.set(key, s);
    }
    if (e.method === 'GET' && e.status < 400) s.fetched.add(e.digest ?? ref);
    const out = this.continued(s, e);
    return pull ? { ...out, pull: true } : out;
  }

  private continued(s: Session, e: RequestEvent): ObservedEvent {
    s.lastActive = Math.max(s.lastActive, e.time);
    if (!isServerFailure(e) || s.failed) return e;
    s.failed = true;
    return { ...e, pullFailed: true };
  }

  private prune(now: number): void {
    this.lastPrune = now;
    // Keep idle sessions an hour longer than the merge window: a layer download that started inside
    // the pull can end (and fail) long after, and must still find its pull.
    for (const [k, s] of this.sessions) if (now - s.lastActive > this.sessionMs + 3_600_000) this.sessions.delete(k);
  }

  get size(): number { return this.sessions.size; }
}
