import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../client/upstream-client.js';
import type { UpstreamConfig } from '../config/schema.js';
import { UpstreamHealth, type HealthOptions, type HealthSnapshot } from './health.js';
import type { UpstreamObservers } from '../obs/upstream-observers.js';

/** Health as observers (metrics, status page) see it: the circuit plus the upstream's own rate-limit headers. */
export interface UpstreamStatus extends HealthSnapshot {
  rateLimitRemaining?: number;
  rateLimitLimit?: number;
}

/**
 * One upstream of a registry: its HTTP client and its health. Health belongs to the upstream
 * layer (the client only speaks HTTP): every answer, probe and refusal of this upstream is judged
 * here and by RegistryUpstreams.
 */
export class Upstream {
  readonly health: UpstreamHealth;

  /** `observers`: told of every request (probes, retries and fail-over attempts included), for metrics. */
  constructor(readonly client: UpstreamClient, health: HealthOptions | UpstreamHealth = { failureThreshold: 3, openFor: 15_000 }, private readonly observers?: UpstreamObservers) {
    this.health = health instanceof UpstreamHealth ? health : new UpstreamHealth(health);
  }

  get id(): string { return this.client.id; }
  get config(): UpstreamConfig { return this.client.config; }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (!this.observers) return this.client.send(req);
    const started = performance.now();
    try {
      const res = await this.client.send(req);
      this.observers.record(this.id, res.status, performance.now() - started);
      return res;
    } catch (e) {
      this.observers.record(this.id, 'error', performance.now() - started, (e as Error)?.message ?? String(e));
      throw e;
    }
  }

  healthSnapshot(): UpstreamStatus {
    const rl = this.client.rateLimit;
    return {
      ...this.health.snapshot(),
      ...(rl ? { rateLimitRemaining: rl.remaining, ...(rl.limit !== undefined ? { rateLimitLimit: rl.limit } : {}) } : {}),
    };
  }

  close(): Promise<void> { return this.client.close(); }
}
