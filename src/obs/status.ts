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

  constructor(private readonly now: () => number = Date.now) {}

  record(e: ObservedEvent): void {
    const t = e.time;
    if (e.operation !== 'other' && e.operation !== 'ping') this.hour.add('requests', t);
    if (e.cache && (e.operation === 'manifest' || e.operation === 'blob')) {
      this.hour.add('cacheable', t);
      if (e.cache === 'hit' || e.cache === 'revalidated' || e.cache === 'stale') this.hour.add('hits', t);
    }
    if (!e.pull) return;
    this.hour.add('pulls', t);
    this.day.add('pulls', t);
    this.images.add(`${e.registry ?? ''}/${e.repository ?? ''}`, t);
    this.clients.add(e.clientIp, t);
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
