import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AuditConfig, AlertsConfig, SloConfig } from '../config/observability.js';
import { resolveSecret } from '../config/secrets.js';
import type { Logger } from './logger.js';
import type { EventSink } from './events.js';
import { PullClassifier, type ObservedEvent } from './pulls.js';
import { AuditLog } from './audit/audit-log.js';
import { RotatingFile } from './audit/rotating-file.js';
import { HttpSink, StdoutSink, type LineSink } from './audit/forwarders.js';
import { AlertEngine, type Alert, type WindowFactory } from './alerts/engine.js';
import { WebhookNotifier } from './alerts/webhooks.js';
import { Metrics, type P2pStatusLike } from './metrics.js';
import { SloTracker } from './slo.js';
import { StatusStats, type UpstreamStatus } from './status.js';
import { readIfExists, saveState } from './persist.js';
import { toolOf } from './tools.js';
import { STATUS_PAGE } from './ui/page.js';
import { STORAGE_FAILED, UPSTREAM_REFUSED } from './channels.js';
import type { UpstreamObservers } from './upstream-observers.js';

/** The config sections observability reads (a structural slice of the full Config). */
interface ObsConfig {
  storage: { path: string; maxSize: number };
  audit: AuditConfig;
  alerts: AlertsConfig;
  slo: SloConfig;
}

/** Health as an upstream client may report it (the failover work adds it; absent means up). */
interface UpstreamLike {
  readonly id: string;
  config?: { role?: string };
  healthSnapshot?: () => { up: boolean; latencyMs?: number; lastError?: string; rateLimitRemaining?: number; rateLimitLimit?: number };
}

/** What observability needs from a gateway; structural, so obs/ imports nothing from gateway/ or cache/. */
interface ObservableGateway {
  app: FastifyInstance;
  events: { add(s: EventSink): void };
  index: { readonly size: number; readonly count: number; readonly evictions: number };
  /** The cache index's state (absent: no index to report, e.g. a fleet's shared one reports elsewhere). */
  indexStatus?: () => { phase: string; scanned: number; fileBytes: number; reason?: string; startedAt?: number; finishedAt?: number };
  inflight: { readonly size: number; waiting(): number };
  routes: { all(): { registry: string; upstreams: { clients: readonly UpstreamLike[] } }[] };
  /** Told of every upstream request (the upstreams were built with it). */
  upstreamObservers: UpstreamObservers;
  /** Fleet coordination, when several instances share a store (degraded = Redis unreachable). */
  coordinator?: { readonly self: { instance: string } | undefined; healthy(): boolean; claimOnce?(key: string, ttlMs: number): Promise<boolean> };
  /** Counters for the alert rules shared by the fleet; absent: this process's own. */
  windows?: WindowFactory;
  /** Peer-to-peer distribution: a node's counters (role node) or the scheduler's trees (role scheduler). */
  p2p?: () => P2pStatusLike;
}

export interface Observability {
  metrics: Metrics;
  slo: SloTracker;
  alerts: AlertEngine;
  audit: AuditLog;
  webhooks: WebhookNotifier;
  /** Where the SLO buckets are saved. */
  sloPath: string;
  /** Where the status page's counters (top images and clients, hit ratio, tool requests) are saved. */
  statusPath: string;
  close(): Promise<void>;
}

/**
 * Wires the audit log, alerts, metrics, SLO tracker and status page onto a gateway: one event sink
 * (every consumer sees the same classified event) and the routes /metrics, /-/slo, /-/alerts,
 * /-/status and /-/ui. Call before the app listens.
 */
export async function attachObservability(gw: ObservableGateway, config: ObsConfig, log: Logger): Promise<Observability> {
  const obsDir = join(resolve(config.storage.path), '_obs');
  const metrics = new Metrics({
    inflight: () => ({ fetches: gw.inflight.size, waiting: gw.inflight.waiting() }),
    cache: () => ({ bytes: gw.index.size, blobs: gw.index.count, maxBytes: config.storage.maxSize, evictions: gw.index.evictions }),
    upstreams: () => upstreamStatus(gw, stats),
    auditDropped: () => audit.dropped,
    ...(gw.indexStatus ? { index: () => { const st = gw.indexStatus!(); return { complete: st.phase === 'ready', scanned: st.scanned, fileBytes: st.fileBytes }; } } : {}),
    // Only a fleet has coordination to report: a single instance has no such gauge at all (an alert
    // written on "== 0" must not fire on every single-node install).
    ...(gw.coordinator?.self ? { coordination: () => (gw.coordinator!.healthy() ? 1 : 0) } : {}),
    ...(gw.p2p ? { p2p: gw.p2p } : {}),
  });
  const audit = buildAudit(config.audit, obsDir);
  const webhooks = new WebhookNotifier(
    config.alerts.webhooks.map((h) => ({ url: resolveSecret(h.url), format: h.format, headers: resolveHeaders(h.headers) })),
    { retries: config.alerts.retries, timeoutMs: config.alerts.timeout },
  );
  const onAlert = (a: Alert) => {
    log.warn({ rule: a.rule, key: a.key, value: a.value, threshold: a.threshold }, `alert: ${a.summary}`);
    audit.alert(a);
    metrics.alert(a.rule);
    // In a fleet each instance sees its own share of the traffic and may raise the same alert:
    // only the first to claim it (per rule, key and cooldown) sends the webhooks.
    const once = gw.coordinator?.claimOnce;
    if (!once) { webhooks.send(a); return; }
    void once.call(gw.coordinator, `alert:${a.rule}:${a.key}`, config.alerts.cooldown).then((first) => { if (first) webhooks.send(a); });
  };
  const alerts = new AlertEngine(config.alerts, onAlert, Date.now, gw.windows);
  const slo = new SloTracker({ successPercent: config.slo.successTarget, latencyMs: config.slo.latencyTarget });
  const sloPath = join(obsDir, 'slo.json');
  if (await slo.load(sloPath)) log.info({ path: sloPath, buckets: slo.bucketCount }, 'SLO history restored');
  const stats = new StatusStats();
  const statusPath = join(obsDir, 'status.json');
  const savedStatus = await readIfExists(statusPath);
  if (savedStatus !== undefined && stats.restore(savedStatus)) log.info({ path: statusPath }, 'status page counters restored');
  const classifier = new PullClassifier(config.slo.pullSession);

  gw.upstreamObservers.add((id, status, ms, error) => {
    const ok = status !== 'error' && status < 500 && status !== 429;
    metrics.upstream(id, status, ms / 1000);
    stats.upstream(id, ok, ms, Date.now(), ok ? undefined : error ?? `HTTP ${status}`);
    alerts.recordUpstream(id, ok);
  });
  const consumers: { record(e: ObservedEvent): void }[] = [audit, metrics, alerts, slo, stats];
  gw.events.add({
    record(raw) {
      const tool = toolOf(raw.userAgent);
      if (tool) {
        // regway's own tools: audited and counted apart, never a pull, an alert or an SLO sample.
        try { audit.record(raw); metrics.tool(tool, raw.operation); stats.tool(tool, raw.time); } catch (err) { log.error({ err }, 'observability consumer failed'); }
        return;
      }
      const e = classifier.classify(raw);
      // Each consumer is isolated: one throwing must not starve the others.
      for (const c of consumers) {
        try { c.record(e); } catch (err) { log.error({ err }, 'observability consumer failed'); }
      }
    },
  });
  registerRoutes(gw, { metrics, slo, alerts, stats, config });
  const onRefused = (m: unknown) => { const e = m as { upstream: string; reason: string }; metrics.refused(e.upstream, e.reason); };
  const onStorage = (m: unknown) => metrics.storageFailed((m as { code: string }).code);
  UPSTREAM_REFUSED.subscribe(onRefused);
  STORAGE_FAILED.subscribe(onStorage);

  // The status counters are saved with the SLO history, so after a restart the page header (from
  // the SLO) and its top lists describe the same hour: docs/observability.md promises they agree.
  const persist = async () => {
    await Promise.all([
      slo.save(sloPath).catch((err) => log.warn({ err }, 'could not save SLO history')),
      saveState(statusPath, stats.serialize()).catch((err) => log.warn({ err }, 'could not save status page counters')),
    ]);
  };
  const timer = setInterval(() => { if (slo.dirty || stats.dirty) { stats.dirty = false; void persist(); } }, config.slo.persistInterval);
  timer.unref();
  return {
    metrics, slo, alerts, audit, webhooks, sloPath, statusPath,
    close: async () => {
      clearInterval(timer);
      UPSTREAM_REFUSED.unsubscribe(onRefused);
      STORAGE_FAILED.unsubscribe(onStorage);
      await persist();
      await Promise.all([audit.close(), webhooks.close()]);
    },
  };
}

function buildAudit(cfg: AuditConfig, obsDir: string): AuditLog {
  const sinks: LineSink[] = [];
  if (cfg.enabled && cfg.stdout) sinks.push(new StdoutSink());
  if (cfg.enabled && cfg.http) {
    const h = cfg.http;
    sinks.push(new HttpSink({ url: resolveSecret(h.url), headers: resolveHeaders(h.headers), batch: h.batch, queue: h.queue, retries: h.retries, timeoutMs: h.timeout }));
  }
  const path = cfg.path ?? join(obsDir, 'audit', 'audit.jsonl');
  const file = cfg.enabled && path !== '' ? new RotatingFile(resolve(path), { maxSize: cfg.rotate.maxSize, intervalMs: cfg.rotate.interval, keep: cfg.rotate.keep }) : undefined;
  return new AuditLog({ file, sinks, blobs: cfg.blobs });
}

function resolveHeaders(h: Record<string, Parameters<typeof resolveSecret>[0]>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, resolveSecret(v)]));
}

function upstreamStatus(gw: ObservableGateway, stats: StatusStats): UpstreamStatus[] {
  const out: UpstreamStatus[] = [];
  for (const r of gw.routes.all()) {
    for (const c of r.upstreams.clients) {
      const h = typeof c.healthSnapshot === 'function' ? c.healthSnapshot() : undefined;
      out.push({
        registry: r.registry, upstream: c.id, role: c.config?.role,
        ...stats.upstreamView(c.id, h),
        ...(h?.rateLimitRemaining !== undefined ? { rateLimitRemaining: h.rateLimitRemaining } : {}),
        ...(h?.rateLimitLimit !== undefined ? { rateLimitLimit: h.rateLimitLimit } : {}),
      });
    }
  }
  return out;
}

/** The header's pull counts are the SLO's: one source, so the two can never disagree. */
function pullsFromSlo(slo: SloTracker): { h1: number; h24: number } {
  const w = slo.report().windows;
  return { h1: w.find((x) => x.window === '1h')?.pulls ?? 0, h24: w.find((x) => x.window === '24h')?.pulls ?? 0 };
}

/** The observability routes, as a fastify plugin: /metrics, /-/slo, /-/alerts, /-/status, /-/ui. */
function registerRoutes(gw: ObservableGateway, o: { metrics: Metrics; slo: SloTracker; alerts: AlertEngine; stats: StatusStats; config: ObsConfig }): void {
  void gw.app.register(async (app) => observabilityRoutes(app, gw, o));
}

function observabilityRoutes(app: FastifyInstance, gw: ObservableGateway, o: { metrics: Metrics; slo: SloTracker; alerts: AlertEngine; stats: StatusStats; config: ObsConfig }): void {
  app.get('/metrics', async (_req, reply) => reply.header('content-type', o.metrics.contentType).send(await o.metrics.text()));
  app.get('/-/slo', async (_req, reply) => reply.header('cache-control', 'no-store').send(o.slo.report()));
  app.get('/-/alerts', async (req, reply) => {
    const limit = Math.max(1, Math.min(1000, Number((req.query as Record<string, string>).limit) || 100));
    return reply.header('cache-control', 'no-store').send({ alerts: o.alerts.recent(limit) });
  });
  app.get('/-/status', async (_req, reply) => reply.header('cache-control', 'no-store').send({ ...o.stats.snapshot({
    upstreams: upstreamStatus(gw, o.stats),
    cache: { bytes: gw.index.size, maxBytes: o.config.storage.maxSize, blobs: gw.index.count, evictions: gw.index.evictions, ...(gw.indexStatus ? { index: gw.indexStatus() } : {}) },
    inflight: { fetches: gw.inflight.size, waiting: gw.inflight.waiting() },
    pulls: pullsFromSlo(o.slo),
  }), ...(gw.coordinator?.self ? { cluster: { instance: gw.coordinator.self.instance, coordination: gw.coordinator.healthy() ? 'ok' : 'degraded' } } : {}), ...(gw.p2p ? { p2p: gw.p2p() } : {}) }));
  app.get('/-/ui', async (_req, reply) => reply
    .header('content-type', 'text/html; charset=utf-8').header('content-security-policy', STATUS_PAGE.csp)
    .header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('cache-control', 'no-cache')
    .send(STATUS_PAGE.html));
}
