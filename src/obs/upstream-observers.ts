/** One request an upstream answered (status) or not (`error`, with why), timed to its headers. */
export type UpstreamObservation = (upstream: string, status: number | 'error', ms: number, error?: string) => void;

/**
 * The explicit hook through which observability measures upstream requests: the composition root
 * creates one per gateway, hands it to every upstream it builds (reloads included) and to the
 * observability pipeline, which adds its consumer. The upstream layer calls `record`; it knows
 * nothing of metrics.
 */
export class UpstreamObservers {
  private readonly observers: UpstreamObservation[] = [];

  add(o: UpstreamObservation): void { this.observers.push(o); }

  record(upstream: string, status: number | 'error', ms: number, error?: string): void {
    for (const o of this.observers) {
      try { o(upstream, status, ms, error); } catch { /* an observer's bug must not fail a pull */ }
    }
  }
}
