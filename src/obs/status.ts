import type { ObservedEvent } from './pulls.js';
import type { ToolName } from './tools.js';
import { SlidingCounter } from './window.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * What the page says about an upstream. `unknown`: nothing has been asked of it yet (no evidence
 * either way, so not green); `failing`: its last request failed but the circuit is still closed;
 * `down`: the circuit is open (requests skip it).
 */
type UpstreamState = 'up' | 'failing' | 'down' | 'unknown';

export interface UpstreamStatus {
  registry: string;
  upstream: string;
  role?: string;
  up: boolean;
  state: UpstreamState;
  /** Recent latency while it answers; null when it does not (a down upstream has no latency to show). */
  latencyMs: number | null;
  /** The last failure (connection error, timeout, 5xx, 429) and since when requests have been failing. */
  lastError?: string;
  failingSince?: string;
  rateLimitRemaining?: number;
  rateLimitLimit?: number;
  /** Requests and failures over the last 5 minutes. */
  requests5m: number;
  errors5m: number;
}

interface StatusDoc {
  generatedAt: string;
  startedAt: string;
  upstreams: UpstreamStatus[];
  cache: { bytes: number; maxBytes: number; blobs: number; evictions: number; hitRatio1h: number | null; requests1h: number; index?: { phase: string; scanned: number; fileBytes: number; reason?: string } };
  inflight: { fetches: number; waiting: number };
  /** Pulls come from the SLO tracker, so the header and the SLO panel are the same numbers. */
  traffic: { pulls1h: number; pulls24h: number; requests1h: number };
  /** regway's own tools (doctor, trace, bench, warm, inspect): requests in the last hour, kept out of everything else. */
  tools: { requests1h: number; byTool: { tool: string; requests: number }[] };
  topImages: { image: string; pulls: number }[];
  topClients: { client: string; pulls: number }[];
}

/** Per upstream, what its requests told us (the health checker knows the circuit; this knows the story). */
interface UpstreamFacts { latencyMs?: number; lastOk?: number; lastError?: string; failingSince?: number }

/** Health as an upstream client reports it; absent: a client without a circuit breaker. */
interface HealthLike { up: boolean; latencyMs?: number; lastError?: string }

/** The state shown for an upstream, from its circuit (health) and its recent requests (facts). Pure. */
export function upstreamState(h: HealthLike | undefined, f: { lastOk?: number; failingSince?: number; lastError?: string } | undefined): UpstreamState {
  if (h && !h.up) return 'down';
  if (f?.failingSince !== undefined) return 'failing';
  if (f?.lastOk !== undefined || h?.latencyMs !== undefined) return 'up';
  return 'unknown';
}

/**
 * The small rolling statistics the status page shows and nothing else needs: top images and clients
 * by pulls over 24 h, cache hit ratio over 1 h, tool requests over 1 h, and per-upstream state,
 * request/error counts and latency. All bounded (SlidingCounter caps keys). The 1 h and 24 h
 * counters are saved and restored across restarts (serialize/restore); the 5-minute upstream counts
 * are live state and start empty.
 */
export class StatusStats {
  private readonly images = new SlidingCounter(DAY, 24, 20_000);
  private readonly clients = new SlidingCounter(DAY, 24, 20_000);
  private readonly hour = new SlidingCounter(HOUR, 60, 8);
  private readonly upReq = new SlidingCounter(5 * 60_000, 30, 10_000);
  private readonly upErr = new SlidingCounter(5 * 60_000, 30, 10_000);
  private readonly tools = new SlidingCounter(HOUR, 60, 16);
  private readonly ups = new Map<string, UpstreamFacts>();
  readonly startedAt = Date.now();
  /** Set when a saved counter changed since the last save. */
  dirty = false;
  /**
   * Counts of the current second, added to the windows when the second changes or before a read.
   * Every slot here is a whole number of seconds, so this lands each count in the slot it would
   * have reached one by one; it saves ~7 window updates (a map move and a slot sum each) per request.
   */
  private pending = { second: Number.NaN, t: 0, requests: 0, cacheable: 0, hits: 0, images: new Map<string, number>(), clients: new Map<string, number>() };

  constructor(private readonly now: () => number = Date.now) {}

  record(e: ObservedEvent): void {
    const t = e.time;
    const p = this.pending;
    const second = Math.floor(t / 1000);
    if (second !== p.second) { this.flush(); p.second = second; }
    p.t = t;
    this.dirty = true;
    if (e.operation !== 'other' && e.operation !== 'ping') p.requests++;
    if (e.cache && (e.operation === 'manifest' || e.operation === 'blob')) {
      p.cacheable++;
      if (e.cache === 'hit' || e.cache === 'revalidated' || e.cache === 'stale') p.hits++;
    }
    if (!e.pull) return;
    const image = `${e.registry ?? ''}/${e.repository ?? ''}`;
    p.images.set(image, (p.images.get(image) ?? 0) + 1);
    p.clients.set(e.clientIp, (p.clients.get(e.clientIp) ?? 0) + 1);
  }

  private flush(): void {
    const p = this.pending;
    const t = p.t;
    if (p.requests) this.hour.add('requests', t, p.requests);
    if (p.cacheable) this.hour.add('cacheable', t, p.cacheable);
    if (p.hits) this.hour.add('hits', t, p.hits);
    for (const [k, n] of p.images) this.images.add(k, t, n);
    for (const [k, n] of p.clients) this.clients.add(k, t, n);
    p.requests = p.cacheable = p.hits = 0;
    p.images.clear();
    p.clients.clear();
  }

  /** A request of one of regway's own tools: counted here, and nowhere else on the page. */
  tool(name: ToolName | 'other', t: number): void {
    this.tools.add(name, t);
    this.dirty = true;
  }

  /** One upstream request ended; `error` says why it failed (undefined when it did not). */
  upstream(id: string, ok: boolean, ms: number, t = this.now(), error?: string): void {
    this.upReq.add(id, t);
    if (!ok) this.upErr.add(id, t);
    let f = this.ups.get(id);
    if (!f) { f = {}; this.ups.set(id, f); }
    if (ok) {
      // Exponentially weighted mean of answers: recent requests dominate, one slow blob does not.
      f.latencyMs = f.latencyMs === undefined ? ms : f.latencyMs * 0.8 + ms * 0.2;
      f.lastOk = t;
      f.failingSince = undefined;
    } else {
      f.lastError = error ?? 'failed';
      f.failingSince ??= t;
    }
  }

  /** What the page shows of one upstream, combining its circuit (health) with what its requests said. */
  upstreamView(id: string, h: HealthLike | undefined, t = this.now()): Pick<UpstreamStatus, 'up' | 'state' | 'latencyMs' | 'lastError' | 'failingSince' | 'requests5m' | 'errors5m'> {
    const f = this.ups.get(id);
    const state = upstreamState(h, f);
    const error = f?.failingSince !== undefined || state === 'down' ? f?.lastError ?? h?.lastError : undefined;
    return {
      up: h?.up ?? true, state,
      latencyMs: state === 'up' ? h?.latencyMs ?? (f?.latencyMs !== undefined ? Math.round(f.latencyMs * 10) / 10 : null) : null,
      ...(error ? { lastError: error } : {}),
      ...(f?.failingSince !== undefined ? { failingSince: new Date(f.failingSince).toISOString() } : {}),
      requests5m: this.upReq.total(id, t), errors5m: this.upErr.total(id, t),
    };
  }

  snapshot(parts: Pick<StatusDoc, 'upstreams' | 'inflight'> & { cache: Omit<StatusDoc['cache'], 'hitRatio1h' | 'requests1h'>; pulls: { h1: number; h24: number } }, t = this.now()): StatusDoc {
    this.flush();
    const cacheable = this.hour.total('cacheable', t);
    const byTool = this.tools.top(t, 16).map((x) => ({ tool: x.key, requests: x.count }));
    return {
      generatedAt: new Date(t).toISOString(),
      startedAt: new Date(this.startedAt).toISOString(),
      upstreams: parts.upstreams,
      cache: { ...parts.cache, hitRatio1h: cacheable ? this.hour.total('hits', t) / cacheable : null, requests1h: cacheable },
      inflight: parts.inflight,
      traffic: { pulls1h: parts.pulls.h1, pulls24h: parts.pulls.h24, requests1h: this.hour.total('requests', t) },
      tools: { requests1h: byTool.reduce((n, x) => n + x.requests, 0), byTool },
      topImages: this.images.top(t, 10).map((x) => ({ image: x.key, pulls: x.count })),
      topClients: this.clients.top(t, 10).map((x) => ({ client: x.key, pulls: x.count })),
    };
  }

  /** The counters the page shows over 1 h and 24 h, as JSON: saved like the SLO history, so a restart keeps them. */
  serialize(t = this.now()): string {
    this.flush();
    const c = { images: this.images, clients: this.clients, hour: this.hour, tools: this.tools };
    return JSON.stringify({ version: 1, savedAt: t, counters: Object.fromEntries(Object.entries(c).map(([k, w]) => [k, { layout: w.layout, rows: w.dump(t) }])) });
  }

  /** Restores what `serialize` wrote; a file of another layout or a corrupt one is ignored (returns false). */
  restore(text: string): boolean {
    let doc: { version?: number; counters?: Record<string, { layout?: string; rows?: unknown }> };
    try { doc = JSON.parse(text); } catch { return false; }
    if (doc.version !== 1 || typeof doc.counters !== 'object' || doc.counters === null) return false;
    const c: Record<string, SlidingCounter> = { images: this.images, clients: this.clients, hour: this.hour, tools: this.tools };
    for (const [k, w] of Object.entries(c)) {
      const saved = doc.counters[k];
      if (saved?.layout === w.layout) w.restore(saved.rows);
    }
    return true;
  }
}
