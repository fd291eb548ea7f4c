// Writes core/v1 Events on Pods, the way the kubelet does, so `kubectl describe pod` shows our
// finding next to the kubelet's "Failed to pull image" lines. Repeats are aggregated like client-go's
// EventCorrelator: the same (object, reason, message) PATCHes count+1 and lastTimestamp on the
// Event already written instead of creating a new one, which `kubectl describe` prints as
// "(x5 over 10m)". If that Event has expired (Events live about an hour), a new one is created.
import { isKubeStatus, type KubeApi } from './kube-client.js';
import { rfc3339, type KubeEvent, type ObjectReference } from './k8s-types.js';

interface EventTarget {
  namespace: string;
  name: string;
  uid: string;
  /** spec.containers{name}: `kubectl describe` shows the container the Event is about. */
  fieldPath?: string;
}

interface RecorderOptions {
  api: KubeApi;
  component?: string;
  instance?: string;
  now?: () => number;
  /** Correlation entries kept; the oldest are dropped first. */
  cacheSize?: number;
}

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
}

export class EventRecorder {
  private readonly cache = new Map<string, Seen>();
  private readonly component: string;
  private readonly now: () => number;
  created = 0;
  patched = 0;

  constructor(private readonly o: RecorderOptions) {
    this.component = o.component ?? 'regway-controller';
    this.now = o.now ?? Date.now;
  }

  /** Records one occurrence; returns the Event as written. */
  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<KubeEvent> {
    const key = `${target.namespace}/${target.uid}/${target.fieldPath ?? ''}\0${reason}\0${message}`;
    const now = this.now();
    const ts = rfc3339(now);
    const base = `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/events`;
    const seen = this.cache.get(key);
    if (seen) {
      try {
        const ev = await this.o.api.patch<KubeEvent>(`${base}/${encodeURIComponent(seen.name)}`, { count: seen.count + 1, lastTimestamp: ts }, 'application/strategic-merge-patch+json');
        seen.count++;
        this.touch(key, seen);
        this.patched++;
        return ev;
      } catch (e) {
        if (!isKubeStatus(404, e)) throw e;
        this.cache.delete(key);
      }
    }
    const involved: ObjectReference = { kind: 'Pod', apiVersion: 'v1', namespace: target.namespace, name: target.name, uid: target.uid, ...(target.fieldPath ? { fieldPath: target.fieldPath } : {}) };
    const ev: KubeEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      // client-go names Events <object>.<unix nanoseconds in hex>.
      metadata: { name: `${target.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace: target.namespace },
      involvedObject: involved,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.o.instance ?? '',
    };
    const out = await this.o.api.post<KubeEvent>(base, ev);
    this.touch(key, { name: out.metadata?.name ?? ev.metadata.name!, count: 1, firstTimestamp: ts });
    this.created++;
    return out;
  }

  private touch(key: string, v: Seen): void {
    this.cache.delete(key);
    this.cache.set(key, v);
    const max = this.o.cacheSize ?? 4096;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value!);
  }
}
