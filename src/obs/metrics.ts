import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ObservedEvent } from './pulls.js';
import { isServerFailure } from './pulls.js';
import { PlainHistogram, TallyCounter } from './tally.js';

/** What the gauges read at scrape time; every field optional so a partial gateway still scrapes. */
interface MetricSources {
  inflight?: () => { fetches: number; waiting: number };
  cache?: () => { bytes: number; blobs: number; maxBytes: number; evictions: number };
  upstreams?: () => { registry: string; upstream: string; up: boolean; latencyMs?: number | null; rateLimitRemaining?: number; rateLimitLimit?: number }[];
  auditDropped?: () => Record<string, number>;
  /** 1 = fleet coordination (Redis) working, 0 = degraded; undefined for a single instance. */
  coordination?: () => number | undefined;
  /** The cache index: complete or being built, store objects read by the current (or last) build, its size on disk. */
  index?: () => IndexGauges;
  /** Peer-to-peer distribution (node or scheduler). */
  p2p?: () => P2pStatusLike;
}

/** Peer-to-peer distribution as observability sees it: a node's counters, or the scheduler's trees. */
export type P2pStatusLike = { role: 'node'; received: Record<string, number>; parentChanges: number; quarantines: number; schedulerErrors: number } | { role: 'scheduler'; trees: unknown[] };

export interface IndexGauges { complete: boolean; scanned: number; fileBytes: number }

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The Prometheus metrics, in a registry of their own (never the process-global one, so two gateways
 * in one test process do not collide). Counters come from request events; gauges are read from the
 * gateway when Prometheus scrapes, so they cost nothing between scrapes.
 *
 * Label sets are bounded on purpose: operation, method, status code, cache result, registry
 * (configured ones only) and upstream URL (configured ones only). No repository, tag or client
 * address: those are unbounded and belong in the audit log.
 */
export class Metrics {
  readonly registry = new Registry();
  // Per-request series: counted in plain numbers, read by prom-client at scrape time (tally.ts).
  private readonly requests: TallyCounter<'operation' | 'method' | 'status'>;
  private readonly duration: PlainHistogram<'operation'>;
  private readonly bytes: TallyCounter<'operation'>;
  private readonly cache: TallyCounter<'operation' | 'result'>;
  private readonly pulls: TallyCounter<'registry' | 'outcome'>;
  private readonly pullFailures: Counter<'registry'>;
  private readonly pullDuration: PlainHistogram<'registry'>;
  private readonly upRequests: Counter<'upstream' | 'status'>;
  private readonly upDuration: Histogram<'upstream'>;
  private readonly alerts: Counter<'rule'>;
  private readonly refusals: Counter<'upstream' | 'reason'>;
  private readonly storageErrors: Counter<'code'>;
  private readonly tools: TallyCounter<'tool' | 'operation'>;
  private readonly redirects: TallyCounter<'registry' | 'target'>;
  private readonly redirectedBytes: TallyCounter<'registry' | 'target'>;
  private readonly policy: TallyCounter<'policy' | 'decision' | 'reason'>;
  private evictionsSeen = 0;

  constructor(private readonly sources: MetricSources = {}, opts: { defaultMetrics?: boolean } = {}) {
    const r = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new TallyCounter({ name: 'regway_http_requests_total', help: 'HTTP requests served, by operation, method and status code', labelNames: ['operation', 'method', 'status'], registers: r });
    this.duration = new PlainHistogram({ name: 'regway_http_request_duration_seconds', help: 'Time from request to the end of the response, by operation', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers: r });
    this.bytes = new TallyCounter({ name: 'regway_http_response_bytes_total', help: 'Response body bytes sent to clients, by operation', labelNames: ['operation'], registers: r });
    this.cache = new TallyCounter({ name: 'regway_cache_requests_total', help: 'Manifest and blob requests by cache result (hit, miss, coalesced, stale, revalidated)', labelNames: ['operation', 'result'], registers: r });
    this.pulls = new TallyCounter({ name: 'regway_pulls_total', help: 'Image pulls (counted once per pull: the manifest request that starts it), by registry and outcome (success, failure, client_error)', labelNames: ['registry', 'outcome'], registers: r });
    this.pullFailures = new Counter({ name: 'regway_pull_failures_total', help: 'Failed pulls as the SLO counts them (5xx, 429 or upstream unavailable on any request of the pull)', labelNames: ['registry'], registers: r });
    this.pullDuration = new PlainHistogram({ name: 'regway_pull_duration_seconds', help: 'Latency of the manifest request that starts a pull (the SLO latency), pulls not failed there', labelNames: ['registry'], buckets: LATENCY_BUCKETS, registers: r });
    this.upRequests = new Counter({ name: 'regway_upstream_requests_total', help: 'Requests to upstream registries, by upstream and status code ("error" for connection failures and timeouts)', labelNames: ['upstream', 'status'], registers: r });
    this.upDuration = new Histogram({ name: 'regway_upstream_request_duration_seconds', help: 'Time to response headers from an upstream registry', labelNames: ['upstream'], buckets: LATENCY_BUCKETS, registers: r });
    this.alerts = new Counter({ name: 'regway_alerts_fired_total', help: 'Anomaly alerts fired, by rule', labelNames: ['rule'], registers: r });
    this.refusals = new Counter({ name: 'regway_upstream_refusals_total', help: 'Upstream answers refused as unsafe or wrong (bad media type, digest or size mismatch, body cut or stalled, token realm downgrade or foreign host, redirect), by upstream and reason', labelNames: ['upstream', 'reason'], registers: r });
    this.storageErrors = new Counter({ name: 'regway_storage_errors_total', help: 'Storage failures by errno code (ENOSPC: disk full)', labelNames: ['code'], registers: r });
    this.policy = new TallyCounter({ name: 'regway_policy_decisions_total', help: 'Pull policy decisions on manifest requests, by policy, decision (allow, deny, would-deny: an audit-mode refusal, served) and reason', labelNames: ['policy', 'decision', 'reason'], registers: r });
    this.tools = new TallyCounter({ name: 'regway_tool_requests_total', help: "Requests from regway's own tools (User-Agent regway-<tool>/...: doctor, trace, bench, warm, inspect), counted here only: never as pulls, cache answers, alerts or SLO samples", labelNames: ['tool', 'operation'], registers: r });
    this.redirects = new TallyCounter({ name: 'regway_blob_redirects_total', help: 'Blob GETs answered with a 307 to the object store (presigned) or a CDN, by registry and target', labelNames: ['registry', 'target'], registers: r });
    this.redirectedBytes = new TallyCounter({ name: 'regway_blob_redirected_bytes_total', help: 'Blob bytes clients were sent to fetch from the redirect target instead of from regway (the blob or the range asked for)', labelNames: ['registry', 'target'], registers: r });
    this.gauges(r);
  }

  /** An upstream answer the upstream layer refused (upstream/events.ts). */
  refused(upstream: string, reason: string): void { this.refusals.inc({ upstream, reason }); }

  storageFailed(code: string): void { this.storageErrors.inc({ code }); }

  private gauges(r: Registry[]): void {
    const s = this.sources;
    new Gauge({ name: 'regway_inflight_fetches', help: 'Upstream blob downloads in progress (each shared by all its waiting clients)', registers: r,
      collect() { this.set(s.inflight?.().fetches ?? 0); } });
    new Gauge({ name: 'regway_inflight_waiting_clients', help: 'Client requests reading from in-progress downloads', registers: r,
      collect() { this.set(s.inflight?.().waiting ?? 0); } });
    // prom-client shows an unlabelled gauge as 0 until set: registering it only for a fleet is what
    // makes it absent on a single instance (where 0 would read as "degraded").
    if (s.coordination) {
      const coordination = s.coordination;
      new Gauge({ name: 'regway_cluster_coordination_up', help: 'Fleet coordination through Redis: 1 working, 0 degraded (instance serving alone); absent for a single instance', registers: r,
        collect() { const v = coordination(); if (v !== undefined) this.set(v); } });
    }
    new Gauge({ name: 'regway_cache_size_bytes', help: 'Bytes of blobs in the cache', registers: r, collect() { this.set(s.cache?.().bytes ?? 0); } });
    new Gauge({ name: 'regway_cache_max_size_bytes', help: 'Configured cache size limit (0 = unlimited)', registers: r, collect() { this.set(s.cache?.().maxBytes ?? 0); } });
    new Gauge({ name: 'regway_cache_blobs', help: 'Blobs in the cache', registers: r, collect() { this.set(s.cache?.().blobs ?? 0); } });
    const self = this;
    new Counter({ name: 'regway_cache_evictions_total', help: 'Blobs evicted to stay under the cache size limit', registers: r,
      collect() { const now = s.cache?.().evictions ?? 0; if (now > self.evictionsSeen) { this.inc(now - self.evictionsSeen); self.evictionsSeen = now; } } });
    if (s.index) {
      const index = s.index;
      new Gauge({ name: 'regway_index_complete', help: 'The cache index holds everything the store holds (1); 0 while it is built in the background (reads fall back to the store, eviction waits)', registers: r, collect() { this.set(index().complete ? 1 : 0); } });
      new Gauge({ name: 'regway_index_build_scanned', help: 'Store objects read by the current (or last) build of the cache index', registers: r, collect() { this.set(index().scanned); } });
      new Gauge({ name: 'regway_index_size_bytes', help: 'Size of the cache index on disk', registers: r, collect() { this.set(index().fileBytes); } });
    }
    const ups = () => s.upstreams?.() ?? [];
    new Gauge({ name: 'regway_upstream_up', help: 'Whether the upstream is considered healthy (1) or not (0)', labelNames: ['registry', 'upstream'], registers: r,
      collect() { this.reset(); for (const u of ups()) this.set({ registry: u.registry, upstream: u.upstream }, u.up ? 1 : 0); } });
    new Gauge({ name: 'regway_upstream_latency_seconds', help: 'Recent upstream latency as the health checker sees it', labelNames: ['registry', 'upstream'], registers: r,
      collect() { this.reset(); for (const u of ups()) if (u.latencyMs != null) this.set({ registry: u.registry, upstream: u.upstream }, u.latencyMs / 1000); } });
    new Gauge({ name: 'regway_upstream_rate_limit_remaining', help: 'Pulls left in the upstream rate-limit window (Docker Hub ratelimit-remaining)', labelNames: ['registry', 'upstream'], registers: r,
      collect() { this.reset(); for (const u of ups()) if (u.rateLimitRemaining !== undefined) this.set({ registry: u.registry, upstream: u.upstream }, u.rateLimitRemaining); } });
    new Gauge({ name: 'regway_upstream_rate_limit_limit', help: 'Size of the upstream rate-limit window (Docker Hub ratelimit-limit)', labelNames: ['registry', 'upstream'], registers: r,
      collect() { this.reset(); for (const u of ups()) if (u.rateLimitLimit !== undefined) this.set({ registry: u.registry, upstream: u.upstream }, u.rateLimitLimit); } });
    const p2p = s.p2p;
    if (p2p) {
      const node = () => { const st = p2p(); return st.role === 'node' ? st : undefined; };
      new Gauge({ name: 'regway_p2p_received_bytes', help: 'Blob bytes this node received, by source (peer, or the upstream id: the central gateway or the upstream directly); a counter read at scrape time', labelNames: ['source'], registers: r,
        collect() { this.reset(); for (const [k, v] of Object.entries(node()?.received ?? {})) this.set({ source: k }, v); } });
      new Gauge({ name: 'regway_p2p_parent_changes', help: 'Times a parent stream broke or stalled and the node resumed from another source', registers: r, collect() { this.set(node()?.parentChanges ?? 0); } });
      new Gauge({ name: 'regway_p2p_quarantines', help: 'Parents this node quarantined because their bytes failed verification', registers: r, collect() { this.set(node()?.quarantines ?? 0); } });
      new Gauge({ name: 'regway_p2p_scheduler_errors', help: 'Scheduler requests that failed (the node pulled from the gateway directly)', registers: r, collect() { this.set(node()?.schedulerErrors ?? 0); } });
      new Gauge({ name: 'regway_p2p_trees', help: 'Scheduler: blobs being distributed between nodes now', registers: r, collect() { const st = p2p(); this.set(st.role === 'scheduler' ? st.trees.length : 0); } });
    }
    const dropsSeen = new Map<string, number>();
    new Counter({ name: 'regway_audit_dropped_lines_total', help: 'Audit lines dropped because a destination (file, stdout, http) could not keep up or was down', labelNames: ['sink'], registers: r,
      collect() {
        for (const [k, v] of Object.entries(s.auditDropped?.() ?? {})) {
          const before = dropsSeen.get(k) ?? 0;
          this.inc({ sink: k }, v - before);
          dropsSeen.set(k, v);
        }
      } });
  }

  record(e: ObservedEvent): void {
    const op = e.operation;
    const method = e.method;
    const status = e.status;
    // Keys are made of the label values, so equal keys mean equal label sets; a hit allocates no labels.
    const rk = `${op} ${method} ${status}`;
    const rc = this.requests.cell(rk);
    if (rc) rc.n++; else this.requests.add(rk, { operation: op, method, status: String(status) });
    const ds = this.duration.seriesFor(op) ?? this.duration.open(op, { operation: op });
    this.duration.observe(ds, e.durationMs / 1000);
    if (e.bytes) {
      const bc = this.bytes.cell(op);
      if (bc) bc.n += e.bytes; else this.bytes.add(op, { operation: op }, e.bytes);
    }
    const cache = e.cache;
    if (cache) {
      const ck = `${op} ${cache}`;
      const cc = this.cache.cell(ck);
      if (cc) cc.n++; else this.cache.add(ck, { operation: op, result: cache });
    }
    if (e.pull || e.pullFailed) this.pull(e);
    const p = e.policy;
    if (p) {
      const pk = `${p.policy} ${p.decision} ${p.reason}`;
      const pc = this.policy.cell(pk);
      if (pc) pc.n++; else this.policy.add(pk, { policy: p.policy, decision: p.decision, reason: p.reason });
    }
    if (e.redirect) this.redirected(e.registry ?? '', e.redirect, e.redirectedBytes ?? 0);
  }

  private redirected(registry: string, target: string, bytes: number): void {
    const k = `${registry} ${target}`;
    const c = this.redirects.cell(k);
    if (c) c.n++; else this.redirects.add(k, { registry, target });
    const b = this.redirectedBytes.cell(k);
    if (b) b.n += bytes; else this.redirectedBytes.add(k, { registry, target }, bytes);
  }

  private pull(e: ObservedEvent): void {
    const registry = e.registry ?? '';
    if (e.pull) {
      const outcome = isServerFailure(e) ? 'failure' : e.status >= 400 ? 'client_error' : 'success';
      const pk = `${outcome} ${registry}`;
      const pc = this.pulls.cell(pk);
      if (pc) pc.n++; else this.pulls.add(pk, { registry, outcome });
      if (outcome !== 'failure') {
        const ps = this.pullDuration.seriesFor(registry) ?? this.pullDuration.open(registry, { registry });
        this.pullDuration.observe(ps, e.durationMs / 1000);
      }
    }
    if (e.pullFailed) this.pullFailures.inc({ registry });
  }

  upstream(upstream: string, status: number | 'error', seconds: number): void {
    this.upRequests.inc({ upstream, status: String(status) });
    this.upDuration.observe({ upstream }, seconds);
  }

  alert(rule: string): void { this.alerts.inc({ rule }); }

  /** A request of one of regway's own tools: only this counter sees it. */
  tool(tool: string, operation: string): void {
    const k = `${tool} ${operation}`;
    const c = this.tools.cell(k);
    if (c) c.n++; else this.tools.add(k, { tool, operation });
  }

  async text(): Promise<string> { return this.registry.metrics(); }
  get contentType(): string { return this.registry.contentType; }
}
