import { RegistryError } from '../oci/errors.js';
import { UpstreamClient, UpstreamConnectionError, UpstreamAuthError, drain, header, type UpstreamRequest, type UpstreamResponse } from '../client/upstream-client.js';
import type { Logger } from '../obs/logger.js';

export interface Attempt { upstream: string; outcome: string }

/** A response together with the upstream that gave it. */
export interface Routed extends UpstreamResponse { upstream: UpstreamClient; attempts: Attempt[] }

export interface SendOptions {
  /** Only upstreams allowed to resolve tags (resolve: true) are asked. */
  resolvesTag?: boolean;
}

/**
 * The ordered upstreams of one registry, mirrors first and the origin last, with the fall-through
 * rules: connection errors, timeouts, 5xx and 429 go to the next upstream; 404 and 401 from a
 * mirror go to the next; the origin's 404 is the answer.
 */
export class RegistryUpstreams {
  constructor(readonly registry: string, readonly clients: UpstreamClient[], private readonly log: Logger) {}

  async send(req: UpstreamRequest, opts: SendOptions = {}): Promise<Routed> {
    const attempts: Attempt[] = [];
    const candidates = this.clients.filter((c) => !opts.resolvesTag || c.config.resolve);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      const last = i === candidates.length - 1;
      let res: UpstreamResponse;
      try {
        res = await c.send(req);
      } catch (e) {
        const outcome = e instanceof UpstreamConnectionError ? e.message : e instanceof UpstreamAuthError ? e.message : String(e);
        attempts.push({ upstream: c.id, outcome });
        this.log.warn({ registry: this.registry, upstream: c.id, path: req.path, err: outcome }, 'upstream failed, trying the next');
        continue;
      }
      if (this.fallsThrough(res.status, c.config.role, last)) {
        attempts.push({ upstream: c.id, outcome: `HTTP ${res.status}` });
        await drain(res);
        continue;
      }
      return { ...res, upstream: c, attempts };
    }
    throw new RegistryError('UPSTREAM_UNAVAILABLE', `no upstream of ${this.registry} could answer`, { registry: this.registry, attempts });
  }

  private fallsThrough(status: number, role: 'mirror' | 'origin', last: boolean): boolean {
    if (status >= 500 || status === 429) return true;
    if (role === 'mirror' && !last && (status === 404 || status === 401 || status === 403)) return true;
    return false;
  }

  async close(): Promise<void> { await Promise.all(this.clients.map((c) => c.close())); }
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
