// Leader election on a coordination.k8s.io/v1 Lease, the same algorithm as client-go's
// leaderelection package, so several controller replicas can run and exactly one acts:
// - A candidate reads the Lease. It may take it when nobody holds it, when it already holds it, or
//   when the holder has not renewed for leaseDurationSeconds. "Not renewed" is judged by OUR clock:
//   the time we last saw the record change, never the holder's renewTime, so clock skew between
//   replicas cannot steal a live lease.
// - Writes carry metadata.resourceVersion: two candidates racing get one success and one 409.
// - The leader renews every retryPeriod; if it cannot renew within renewDeadline (< leaseDuration)
//   it stops acting before anyone else may take over.
// - On graceful shutdown the leader releases: empty holderIdentity, leaseDurationSeconds 1, so a
//   standby takes over at its next retry instead of waiting out the lease.
import { isKubeStatus, type KubeApi } from './kube-client.js';
import { microTime, type Lease } from './k8s-types.js';
import { sleep } from './sleep.js';

interface LeaderOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this replica becomes the leader; the signal aborts when it stops being one. */
  onStartedLeading(signal: AbortSignal): void;
  onStoppedLeading(): void;
  onError?(err: unknown): void;
  now?: () => number;
}

export class LeaderElector {
  isLeader = false;
  transitions = 0;
  private observed = '';
  private observedAt = 0;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;

  constructor(private readonly o: LeaderOptions) {
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    if (!(this.renewMs < this.leaseMs && this.retryMs < this.renewMs)) throw new Error('leader election needs retryPeriod < renewDeadline < leaseDuration');
    this.now = o.now ?? Date.now;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`;
  }

  private spec(now: number, prev?: Lease['spec']): NonNullable<Lease['spec']> {
    const mine = prev?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.leaseMs / 1000)),
      acquireTime: mine && prev?.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: mine ? (prev?.leaseTransitions ?? 0) : (prev?.leaseTransitions ?? -1) + 1,
    };
  }

  /** One attempt; true when we hold the lease afterwards. Errors count as "not held". */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    let lease: Lease;
    try {
      lease = await this.o.api.get<Lease>(`${this.path}/${encodeURIComponent(this.o.name)}`);
    } catch (e) {
      if (!isKubeStatus(404, e)) throw e;
      try {
        await this.o.api.post<Lease>(this.path, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: this.spec(now),
        });
        return true;
      } catch (e2) {
        if (isKubeStatus(409, e2)) return false;
        throw e2;
      }
    }
    const s = lease.spec ?? {};
    const record = `${s.holderIdentity ?? ''}|${s.renewTime ?? ''}|${s.leaseTransitions ?? ''}`;
    if (record !== this.observed) {
      this.observed = record;
      this.observedAt = now;
    }
    const held = !!s.holderIdentity && s.holderIdentity !== this.o.identity;
    if (held && this.observedAt + (s.leaseDurationSeconds ?? 15) * 1000 > now) return false;
    try {
      await this.o.api.put<Lease>(`${this.path}/${encodeURIComponent(this.o.name)}`, { ...lease, spec: this.spec(now, s) });
      return true;
    } catch (e) {
      if (isKubeStatus(409, e)) return false;
      throw e;
    }
  }

  private async attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (e) {
      this.o.onError?.(e);
      return false;
    }
  }

  /** Campaigns, leads, and campaigns again after a loss, until the signal aborts; then releases. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.attempt())) {
        await sleep(this.retryMs * (1 + Math.random() * 0.2), signal);
        continue;
      }
      this.isLeader = true;
      this.transitions++;
      let lastRenew = this.now();
      const term = new AbortController();
      this.o.onStartedLeading(term.signal);
      while (!signal.aborted) {
        await sleep(this.retryMs, signal);
        if (signal.aborted) break;
        if (await this.attempt()) lastRenew = this.now();
        else if (this.now() - lastRenew >= this.renewMs) break;
      }
      this.isLeader = false;
      term.abort();
      this.o.onStoppedLeading();
      if (signal.aborted) await this.release();
    }
  }

  /** Gives the lease up if we hold it, so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    try {
      const lease = await this.o.api.get<Lease>(`${this.path}/${encodeURIComponent(this.o.name)}`);
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime(this.now());
      await this.o.api.put<Lease>(`${this.path}/${encodeURIComponent(this.o.name)}`, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
    } catch (e) {
      this.o.onError?.(e);
    }
  }
}
