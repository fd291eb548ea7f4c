import { RegistryError } from '../oci/errors.js';
import { UpstreamConnectionError, UpstreamAuthError, drain, header, type UpstreamRequest, type UpstreamResponse } from '../client/upstream-client.js';
import { parseRetryAfter } from './health.js';
import { upstreamRefused } from '../obs/channels.js';
import type { Upstream } from './upstream.js';
import type { Logger } from '../obs/logger.js';

export interface Attempt { upstream: string; outcome: string }

/** A response together with the upstream that gave it. */
export interface Routed extends UpstreamResponse { upstream: Upstream; attempts: Attempt[] }

export interface SendOptions {
  /** Only upstreams allowed to resolve tags (resolve: true) are asked. */
  resolvesTag?: boolean;
  /** Upstreams not to ask (they already failed this operation, e.g. mid-stream). */
  exclude?: ReadonlySet<Upstream>;
}

/**
 * Thrown by a reader of an upstream's answer when the bytes are not what they must be (wrong
 * digest, wrong length, not a manifest, a body cut short or stalled): the answer is that
 * upstream's failure, and the next upstream is asked. `reason` is a metric label.
 */
export class BadUpstreamContent extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
    this.name = 'BadUpstreamContent';
  }
}

/**
 * The ordered upstreams of one registry, mirrors first and the origin last, with the fall-through
 * rules (documented in the README): connection errors, timeouts, 5xx and 429 go to the next
 * upstream; 404 and 401/403 from a mirror go to the next; the origin's answer is final. Upstreams
 * whose circuit is open are skipped without a request, unless every candidate is open: then they
 * are all tried, since failing without trying would be worse. An upstream inside its Retry-After
 * window is never asked; when that leaves none, the answer is 429 with the shortest window left.
 */
export class RegistryUpstreams {
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly registry: string, readonly clients: Upstream[], private readonly log: Logger) {}

  send(req: UpstreamRequest, opts: SendOptions = {}): Promise<Routed> {
    return this.fetch(req, opts, async (res) => res);
  }

  /**
   * Sends to the upstreams in order and hands each usable answer to `read`, which reads and checks
   * it. `read` throwing BadUpstreamContent, or failing while reading the body (reset, timeout), is
   * that upstream's failure: its health is charged and the next one is asked. Any other error
   * from `read` is the answer (a 404 mapped to MANIFEST_UNKNOWN, say).
   */
  async fetch<T>(req: UpstreamRequest, opts: SendOptions, read: (res: Routed) => Promise<T>): Promise<T> {
    const attempts: Attempt[] = [];
    const candidates = this.clients.filter((c) => (!opts.resolvesTag || c.config.resolve) && !opts.exclude?.has(c));
    const limited = candidates.filter((c) => c.health.rateLimited());
    const open = candidates.filter((c) => !c.health.rateLimited());
    const available = open.filter((c) => c.health.available());
    const order = available.length > 0 ? available : open;
    for (const c of limited) attempts.push({ upstream: c.id, outcome: `skipped: rate-limited for ${Math.ceil(c.health.retryAfterMs() / 1000)} s` });
    for (const c of open) if (!order.includes(c)) attempts.push({ upstream: c.id, outcome: 'skipped: circuit open' });
    let retryAfter: number | undefined;
    for (let i = 0; i < order.length; i++) {
      const c = order[i]!;
      const last = i === order.length - 1;
      const started = performance.now();
      let res: UpstreamResponse;
      try {
        res = await c.send(req);
      } catch (e) {
        const outcome = e instanceof UpstreamConnectionError || e instanceof UpstreamAuthError ? e.message : String(e);
        this.failed(c, attempts, req, outcome);
        continue;
      }
      this.observe(c, res, performance.now() - started);
      if (this.fallsThrough(res.status, c.config.role, last)) {
        attempts.push({ upstream: c.id, outcome: `HTTP ${res.status}` });
        if (res.status === 429) retryAfter = minDefined(retryAfter, c.health.retryAfterMs());
        await drain(res);
        continue;
      }
      try {
        return await read({ ...res, upstream: c, attempts });
      } catch (e) {
        // The upstream's own answer (404, 401...): its body is let go of too, or the connection stays held.
        if (e instanceof RegistryError) { await drain(res); throw e; }
        const reason = e instanceof BadUpstreamContent ? e.reason : 'body_error';
        upstreamRefused(c.id, reason);
        this.failed(c, attempts, req, e instanceof BadUpstreamContent ? e.message : `body failed: ${describe(e)}`);
        await drain(res);
      }
    }
    const tried = attempts.filter((a) => !a.outcome.startsWith('skipped: circuit'));
    if (tried.length > 0 && tried.every((a) => a.outcome === 'HTTP 429' || a.outcome.startsWith('skipped: rate-limited'))) {
      // Every upstream asked us to wait: say so, with when, instead of a 502 clients retry at once.
      const ms = minDefined(retryAfter, ...limited.map((c) => c.health.retryAfterMs())) ?? 1000;
      const seconds = String(Math.max(1, Math.ceil(ms / 1000)));
      throw new RegistryError('TOOMANYREQUESTS', `every upstream of ${this.registry} is rate-limiting us`, { registry: this.registry, attempts }, { headers: { 'retry-after': seconds } });
    }
    throw new RegistryError('UPSTREAM_UNAVAILABLE', `no upstream of ${this.registry} could answer`, { registry: this.registry, attempts });
  }

  private failed(c: Upstream, attempts: Attempt[], req: UpstreamRequest, outcome: string): void {
    c.health.failure(outcome);
    attempts.push({ upstream: c.id, outcome });
    this.log.warn({ registry: this.registry, upstream: c.id, path: req.path, err: outcome }, 'upstream failed, trying the next');
  }

  /** Feeds a response's outcome to the upstream's health. */
  private observe(c: Upstream, res: UpstreamResponse, ms: number): void {
    if (res.status === 429) c.health.limited(parseRetryAfter(header(res.headers, 'retry-after')));
    else if (res.status >= 500) c.health.failure(`HTTP ${res.status}`);
    else c.health.success(ms);
  }

  private fallsThrough(status: number, role: 'mirror' | 'origin', last: boolean): boolean {
    if (status >= 500 || status === 429) return true;
    if (role === 'mirror' && !last && (status === 404 || status === 401 || status === 403)) return true;
    return false;
  }

  /** Active health: probes `/v2/` of every upstream at an interval (200 or 401 means alive). */
  startProbes(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => { void this.probeAll(); }, intervalMs);
    this.timer.unref();
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.clients.map(async (c) => {
      const started = performance.now();
      try {
        const res = await c.send({ method: 'GET', name: '', path: '' });
        await drain(res);
        if (res.status === 429) {
          c.health.limited(parseRetryAfter(header(res.headers, 'retry-after')));
        } else if (res.status < 500) {
          const wasDown = !c.health.isUp();
          c.health.success(performance.now() - started);
          if (wasDown && c.health.isUp()) this.log.info({ registry: this.registry, upstream: c.id }, 'upstream is back (probe)');
        } else c.health.failure(`probe: HTTP ${res.status}`);
      } catch (e) {
        const wasUp = c.health.isUp();
        c.health.failure(`probe: ${(e as Error).message}`);
        if (wasUp && !c.health.isUp()) this.log.warn({ registry: this.registry, upstream: c.id }, 'upstream is down (probe)');
      }
    }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

function minDefined(...v: (number | undefined)[]): number | undefined {
  const d = v.filter((x): x is number => x !== undefined && x > 0);
  return d.length ? Math.min(...d) : undefined;
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err?.code ? `${err.code}: ${err.message}` : String(err?.message ?? e);
}

/** Maps an upstream's error status for a manifest or blob to the client-facing error. */
export function upstreamError(res: Routed, what: 'manifest' | 'blob', detail: Record<string, unknown>): RegistryError {
  if (res.status === 404) return new RegistryError(what === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', undefined, detail);
  if (res.status === 401) return new RegistryError('DENIED', `upstream ${res.upstream.id} refused our credentials (401); check the registry's upstream auth`, detail, { status: 403 });
  if (res.status === 403) return new RegistryError('DENIED', `upstream ${res.upstream.id} denied access (403)`, detail);
  if (res.status === 416) return new RegistryError('RANGE_INVALID', undefined, detail);
  const retry = header(res.headers, 'retry-after');
  return new RegistryError('UPSTREAM_UNAVAILABLE', `upstream ${res.upstream.id} answered ${res.status}`, detail, retry ? { headers: { 'retry-after': retry } } : {});
}

/** An upstream could not give an answer (down, failing, or rate-limiting us): cached content may stand in. */
export function upstreamsFailed(e: unknown): boolean {
  return e instanceof RegistryError && (e.code === 'UPSTREAM_UNAVAILABLE' || (e.code === 'TOOMANYREQUESTS' && 'attempts' in (e.detail as object)));
}
