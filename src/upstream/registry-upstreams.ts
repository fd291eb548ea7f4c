import { RegistryError } from '../oci/errors.js';
import { UpstreamClient, UpstreamConnectionError, UpstreamAuthError, drain, header, type UpstreamRequest, type UpstreamResponse } from '../client/upstream-client.js';
import { parseRetryAfter } from './health.js';
import type { Logger } from '../obs/logger.js';

export interface Attempt { upstream: string; outcome: string }

/** A response together with the upstream that gave it. */
export interface Routed extends UpstreamResponse { upstream: UpstreamClient; attempts: Attempt[] }

export interface SendOptions {
  /** Only upstreams allowed to resolve tags (resolve: true) are asked. */
  resolvesTag?: boolean;
  /** Upstreams not to ask (they already failed this operation, e.g. mid-stream). */
  exclude?: ReadonlySet<UpstreamClient>;
}

/**
 * The ordered upstreams of one registry, mirrors first and the origin last, with the fall-through
 * rules (documented in the README): connection errors, timeouts, 5xx and 429 go to the next
 * upstream; 404 and 401/403 from a mirror go to the next; the origin's answer is final. Upstreams
 * whose circuit is open are skipped without a request, unless every candidate is open: then they
 * are all tried, since failing without trying would be worse.
 */
export class RegistryUpstreams {
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly registry: string, readonly clients: UpstreamClient[], private readonly log: Logger) {}

  async send(req: UpstreamRequest, opts: SendOptions = {}): Promise<Routed> {
    const attempts: Attempt[] = [];
    const candidates = this.clients.filter((c) => (!opts.resolvesTag || c.config.resolve) && !opts.exclude?.has(c));
    const available = candidates.filter((c) => c.health.available());
    const order = available.length > 0 ? available : candidates;
    for (const c of candidates) if (!order.includes(c)) attempts.push({ upstream: c.id, outcome: 'skipped: circuit open' });
    for (let i = 0; i < order.length; i++) {
      const c = order[i]!;
      const last = i === order.length - 1;
      const started = performance.now();
      let res: UpstreamResponse;
      try {
        res = await c.send(req);
      } catch (e) {
        const outcome = e instanceof UpstreamConnectionError || e instanceof UpstreamAuthError ? e.message : String(e);
        c.health.failure(outcome);
        attempts.push({ upstream: c.id, outcome });
        this.log.warn({ registry: this.registry, upstream: c.id, path: req.path, err: outcome }, 'upstream failed, trying the next');
        continue;
      }
      this.observe(c, res, performance.now() - started);
      if (this.fallsThrough(res.status, c.config.role, last)) {
        attempts.push({ upstream: c.id, outcome: `HTTP ${res.status}` });
        await drain(res);
        continue;
      }
      return { ...res, upstream: c, attempts };
    }
    throw new RegistryError('UPSTREAM_UNAVAILABLE', `no upstream of ${this.registry} could answer`, { registry: this.registry, attempts });
  }

  /** Feeds a response's outcome to the upstream's health. */
  private observe(c: UpstreamClient, res: UpstreamResponse, ms: number): void {
    if (res.status === 429) c.health.rateLimited(parseRetryAfter(header(res.headers, 'retry-after')));
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
        if (res.status < 500 && res.status !== 429) {
          const wasDown = !c.health.isUp();
          c.health.success(performance.now() - started);
          if (wasDown) this.log.info({ registry: this.registry, upstream: c.id }, 'upstream is back (probe)');
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

/** Maps an upstream's error status for a manifest or blob to the client-facing error. */
export function upstreamError(res: Routed, what: 'manifest' | 'blob', detail: Record<string, unknown>): RegistryError {
  if (res.status === 404) return new RegistryError(what === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', undefined, detail);
  if (res.status === 401) return new RegistryError('DENIED', `upstream ${res.upstream.id} refused our credentials (401); check the registry's upstream auth`, detail, { status: 403 });
  if (res.status === 403) return new RegistryError('DENIED', `upstream ${res.upstream.id} denied access (403)`, detail);
  if (res.status === 416) return new RegistryError('RANGE_INVALID', undefined, detail);
  const retry = header(res.headers, 'retry-after');
  return new RegistryError('UPSTREAM_UNAVAILABLE', `upstream ${res.upstream.id} answered ${res.status}`, detail, retry ? { headers: { 'retry-after': retry } } : {});
}
