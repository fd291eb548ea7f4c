import type { ObservedEvent } from './pulls.js';
import { SlidingCounter } from './window.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface UpstreamStatus {
  registry: string;
  upstream: string;
  role?: string;
  up: boolean;
  /** From the health checker when it has one, else our own recent mean. */
  latencyMs: number | null;
  rateLimitRemaining?: number;
  rateLimitLimit?: number;
  /** Requests and failures over the last 5 minutes. */
  requests5m: number;
  errors5m: number;
}

export interface StatusDoc {
  generatedAt: string;
  startedAt: string;
  upstreams: UpstreamStatus[];
  cache: { bytes: number; maxBytes: number; blobs: number; evictions: number; hitRatio1h: number | null; requests1h: number };
  inflight: { fetches: number; waiting: number };
  traffic: { pulls1h: number; pulls24h: number; requests1h: number };
  topImages: { image: string; pulls: number }[];
  topClients: { client: string; pulls: number }[];
}

/**
 * The small rolling statistics the status page shows and nothing else needs: top images and clients
 * by pulls over 24 h, cache hit ratio over 1 h, and per-upstream request/error counts and latency.
 * All bounded (SlidingCounter caps keys).
 */
export class StatusStats {
  private readonly images = new SlidingCounter(DAY, 24, 20_000);
  private readonly clients = new SlidingCounter(DAY, 24, 20_000);
  private readonly hour = new SlidingCounter(HOUR, 60, 8);
  private readonly day = new SlidingCounter(DAY, 24, 2);
  private readonly upReq = new SlidingCounter(5 * 60_000, 30, 10_000);
  private readonly upErr = new SlidingCounter(5 * 60_000, 30, 10_000);
  private readonly upLatency = new Map<string, number>();
  readonly startedAt = Date.now();
  /**
   * Counts of the current second, added to the windows when the second changes or before a read.
   * Every slot here is a whole number of seconds, so this lands each count in the slot it would
   * have reached one by one; it saves ~7 window updates (a map move and a slot sum each) per request.
   */
  private pending = { second: Number.NaN, t: 0, requests: 0, cacheable: 0, hits: 0, pulls: 0, images: new Map<string, number>(), clients: new Map<string, number>() };

  constructor(private readonly now: () => number = Date.now) {}

  record(e: ObservedEvent): void {
    const t = e.time;
    const p = this.pending;
    const second = Math.floor(t / 1000);
    if (second !== p.second) { this.flush(); p.second = second; }
    p.t = t;
    if (e.operation !== 'other' && e.operation !== 'ping') p.requests++;
    if (e.cache && (e.operation === 'manifest' || e.operation === 'blob')) {
      p.cacheable++;
      if (e.cache === 'hit' || e.cache === 'revalidated' || e.cache === 'stale') p.hits++;
    }
    if (!e.pull) return;
    p.pulls++;
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
    if (p.pulls) { this.hour.add('pulls', t, p.pulls); this.day.add('pulls', t, p.pulls); }
    for (const [k, n] of p.images) this.images.add(k, t, n);
    for (const [k, n] of p.clients) this.clients.add(k, t, n);
    p.requests = p.cacheable = p.hits = p.pulls = 0;
    p.images.clear();
    p.clients.clear();
  }

  upstream(id: string, ok: boolean, ms: number, t = this.now()): void {
    this.upReq.add(id, t);
    if (!ok) this.upErr.add(id, t);
    // Exponentially weighted mean: recent requests dominate, one slow blob does not.
    const prev = this.upLatency.get(id);
    this.upLatency.set(id, prev === undefined ? ms : prev * 0.8 + ms * 0.2);
  }

  upstreamCounts(id: string, t = this.now()): { requests5m: number; errors5m: number; latencyMs: number | null } {
    return { requests5m: this.upReq.total(id, t), errors5m: this.upErr.total(id, t), latencyMs: this.upLatency.get(id) ?? null };
  }

  snapshot(parts: Pick<StatusDoc, 'upstreams' | 'inflight'> & { cache: Omit<StatusDoc['cache'], 'hitRatio1h' | 'requests1h'> }, t = this.now()): StatusDoc {
    this.flush();
    const cacheable = this.hour.total('cacheable', t);
    return {
      generatedAt: new Date(t).toISOString(),
      startedAt: new Date(this.startedAt).toISOString(),
      upstreams: parts.upstreams,
      cache: { ...parts.cache, hitRatio1h: cacheable ? this.hour.total('hits', t) / cacheable : null, requests1h: cacheable },
      inflight: parts.inflight,
      traffic: { pulls1h: this.hour.total('pulls', t), pulls24h: this.day.total('pulls', t), requests1h: this.hour.total('requests', t) },
      topImages: this.images.top(t, 10).map((x) => ({ image: x.key, pulls: x.count })),
      topClients: this.clients.top(t, 10).map((x) => ({ client: x.key, pulls: x.count })),
    };
  }
}
