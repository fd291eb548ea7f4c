// The controller's I/O shell around the pure ReconcileState: leader election decides whether this
// replica acts; the leader list-watches Pods and the kubelet's Failed Events, and after each change
// (debounced) or timer tick asks the state for actions and performs them: doctor runs (bounded
// concurrency), Events on Pods, and the optional pull-secret attachment.
import type { Logger } from '../obs/logger.js';
import { CAUSES } from './classify.js';
import type { DiagnoseFn, DoctorOptions, DoctorReport } from './doctor-contract.js';
import { EventRecorder } from './events.js';
import type { KubeEvent, Node, Pod } from './k8s-types.js';
import { KubeApiError, type KubeApi } from './kube-client.js';
import { LeaderElector } from './leader.js';
import type { ControllerMetrics } from './metrics.js';
import { ReconcileState, type Action, type Diagnosis, type ReconcileConfig } from './reconcile.js';
import { attachPullSecret, attachedMessage } from './remediate.js';
import { Reflector, type ReflectorHandlers } from './watch.js';

interface ControllerOptions extends ReconcileConfig {
  api: KubeApi;
  diagnose: DiagnoseFn;
  log: Logger;
  metrics?: ControllerMetrics;
  /** Namespaces to watch; empty or absent: the whole cluster. */
  namespaces?: readonly string[];
  /** Base doctor options (CA file, timeout...); the node's platform is added per run. */
  doctor?: DoctorOptions;
  /** Registries the nodes reach over plain HTTP or unverified TLS (hosts.toml http://, skip_verify). */
  insecureRegistries?: readonly string[];
  identity: string;
  /** Lease-based leader election; false runs as the only replica (tests, single-node setups). */
  leaderElection: false | { namespace: string; name: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  debounceMs?: number;
  doctorConcurrency?: number;
  watch?: { backoffInitialMs?: number; backoffMaxMs?: number; watchTimeoutSeconds?: number };
}

const RESOURCE_RE = /\/(pods|events|leases|serviceaccounts|nodes)(?:\/|\?|$)/;

/** Wraps a KubeApi so every failed call is counted by verb, resource and status. */
function instrument(api: KubeApi, m: ControllerMetrics | undefined): KubeApi {
  if (!m) return api;
  const count = <T>(verb: string, path: string, p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      m.apiErrors.inc({ verb, resource: RESOURCE_RE.exec(path)?.[1] ?? 'other', code: e instanceof KubeApiError ? String(e.status) : 'network' });
      throw e;
    });
  return {
    get: (p) => count('get', p, api.get(p)),
    post: (p, b) => count('create', p, api.post(p, b)),
    put: (p, b) => count('update', p, api.put(p, b)),
    patch: (p, b, t) => count('patch', p, api.patch(p, b, t)),
    watch: (p, q, s) => count('watch', p, api.watch(p, q, s)),
  };
}

export class Controller {
  state = new ReconcileState();
  readonly api: KubeApi;
  readonly recorder: EventRecorder;
  private readonly stop$ = new AbortController();
  private elector?: LeaderElector;
  private reflectors: Reflector<Pod | KubeEvent>[] = [];
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private again = false;
  private term?: AbortSignal;
  private readonly nodes = new Map<string, { platform?: string; at: number }>();
  private readonly doctors = new Set<Promise<void>>();
  private synced = 0;

  constructor(private readonly o: ControllerOptions) {
    this.api = instrument(o.api, o.metrics);
    this.recorder = new EventRecorder({ api: this.api, instance: o.identity });
  }

  get isLeader(): boolean {
    return this.o.leaderElection === false ? !!this.term && !this.term.aborted : !!this.elector?.isLeader;
  }

  /** Ready: a standby, or a leader whose watches have listed once. */
  ready(): boolean {
    return !this.isLeader || this.synced >= this.reflectors.length;
  }

  start(): void {
    const signal = this.stop$.signal;
    if (this.o.leaderElection === false) {
      const term = new AbortController();
      signal.addEventListener('abort', () => term.abort(), { once: true });
      this.lead(term.signal);
      this.running = Promise.resolve();
      return;
    }
    const le = this.o.leaderElection;
    this.elector = new LeaderElector({
      api: this.api,
      namespace: le.namespace,
      name: le.name,
      identity: this.o.identity,
      ...(le.leaseDurationMs ? { leaseDurationMs: le.leaseDurationMs } : {}),
      ...(le.renewDeadlineMs ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
      ...(le.retryPeriodMs ? { retryPeriodMs: le.retryPeriodMs } : {}),
      onStartedLeading: (term) => {
        this.o.log.info({ identity: this.o.identity }, 'became leader');
        this.o.metrics?.leader.set(1);
        this.lead(term);
      },
      onStoppedLeading: () => {
        this.o.log.info({ identity: this.o.identity }, 'stopped leading');
        this.o.metrics?.leader.set(0);
      },
      onError: (e) => this.o.log.warn({ err: String(e) }, 'leader election: API error'),
    });
    this.running = this.elector.run(signal);
  }

  /** Graceful: stop watching, finish the doctor runs in flight, release the Lease. */
  async stop(): Promise<void> {
    this.stop$.abort();
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.doctors]);
    await this.running;
  }

  private lead(term: AbortSignal): void {
    this.term = term;
    this.state = new ReconcileState();
    this.synced = 0;
    const namespaces = this.o.namespaces?.length ? this.o.namespaces : [undefined];
    this.reflectors = [];
    for (const ns of namespaces) {
      const prefix = ns ? `/api/v1/namespaces/${encodeURIComponent(ns)}` : '/api/v1';
      this.reflectors.push(this.reflector<Pod>(`${prefix}/pods`, 'pods', undefined, this.podHandlers(ns)));
      // The kubelet's pull errors are Warning Events with reason Failed on the Pod.
      this.reflectors.push(this.reflector<KubeEvent>(`${prefix}/events`, 'events', 'involvedObject.kind=Pod,reason=Failed', this.eventHandlers()));
    }
    for (const r of this.reflectors) void r.run(term);
    this.timer = setInterval(() => this.schedule(), Math.max(1000, Math.min(30_000, this.o.intervalMs / 4)));
    this.timer.unref();
    term.addEventListener(
      'abort',
      () => {
        if (this.timer) clearInterval(this.timer);
      },
      { once: true },
    );
  }

  private reflector<T extends Pod | KubeEvent>(path: string, resource: string, fieldSelector: string | undefined, h: ReflectorHandlers<T>): Reflector<Pod | KubeEvent> {
    const w = this.o.watch ?? {};
    return new Reflector<T>(
      {
        api: this.api,
        path,
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(w.backoffInitialMs ? { backoffInitialMs: w.backoffInitialMs } : {}),
        ...(w.backoffMaxMs ? { backoffMaxMs: w.backoffMaxMs } : {}),
        ...(w.watchTimeoutSeconds ? { watchTimeoutSeconds: w.watchTimeoutSeconds } : {}),
        onError: (e, attempt, delay) => this.o.log.warn({ path, attempt, delayMs: delay, err: String(e) }, 'watch: API error, backing off'),
        onRelist: (why) => {
          this.o.metrics?.relists.inc({ resource, reason: why });
          if (why === 'expired') this.o.log.info({ path }, 'watch: 410 Gone, re-listing');
        },
      },
      h,
    ) as unknown as Reflector<Pod | KubeEvent>;
  }

  private podHandlers(ns: string | undefined): ReflectorHandlers<Pod> {
    return {
      replace: (items) => {
        const now = Date.now();
        const keep = new Set(items.map((p) => p.metadata.uid));
        for (const f of [...this.state.failures.values()]) {
          if ((!ns || f.namespace === ns) && !keep.has(f.podUid)) this.state.forgetPod({ metadata: { uid: f.podUid, namespace: f.namespace, name: f.pod } });
        }
        for (const p of items) this.state.observePod(p, now);
        this.synced++;
        this.schedule();
      },
      added: (p) => {
        this.state.observePod(p, Date.now());
        this.schedule();
      },
      modified: (p) => {
        this.state.observePod(p, Date.now());
        this.schedule();
      },
      deleted: (p) => {
        this.state.forgetPod(p);
        this.schedule();
      },
    };
  }

  private eventHandlers(): ReflectorHandlers<KubeEvent> {
    return {
      replace: (items) => {
        for (const e of items) this.state.observeEvent(e);
        this.synced++;
        this.schedule();
      },
      added: (e) => {
        this.state.observeEvent(e);
        this.schedule();
      },
      modified: (e) => {
        this.state.observeEvent(e);
        this.schedule();
      },
      deleted: () => undefined,
    };
  }

  /** Debounces bursts of watch events into one reconcile pass. */
  private schedule(): void {
    if (!this.term || this.term.aborted) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    setTimeout(() => void this.tick(), this.o.debounceMs ?? 200);
  }

  private async tick(): Promise<void> {
    try {
      do {
        this.again = false;
        if (!this.term || this.term.aborted) return;
        const actions = this.state.plan(Date.now(), this.o);
        for (const a of actions) await this.perform(a);
        this.updateGauge();
      } while (this.again);
    } catch (e) {
      this.o.log.warn({ err: String(e) }, 'reconcile pass failed; retrying on the next change or tick');
    } finally {
      this.ticking = false;
    }
  }

  private updateGauge(): void {
    const m = this.o.metrics;
    if (!m) return;
    const counts = new Map<string, number>();
    for (const f of this.state.failures.values()) counts.set(f.cause, (counts.get(f.cause) ?? 0) + 1);
    for (const cause of Object.keys(CAUSES)) m.failing.set({ cause }, counts.get(cause) ?? 0);
  }

  private async perform(a: Action): Promise<void> {
    if (a.kind === 'diagnose') {
      // Over the limit: skipped now, planned again when a running doctor finishes.
      if (this.doctors.size >= (this.o.doctorConcurrency ?? 4)) return;
      this.state.diagnosisStarted(a.registry);
      const p = this.runDoctor(a).then((d) => {
        this.state.recordDiagnosis(d);
        this.doctors.delete(p);
        this.schedule();
      });
      this.doctors.add(p);
      return;
    }
    if (a.kind === 'report') {
      const f = a.failure;
      try {
        await this.recorder.record({ namespace: f.namespace, name: f.pod, uid: f.podUid, fieldPath: `spec.containers{${f.container}}` }, 'Warning', a.reason, a.message);
        this.state.markReported(f.key, a.signature, Date.now());
        this.o.metrics?.findings.inc({ cause: f.cause });
        this.o.metrics?.events.inc({ reason: a.reason });
        this.o.log.info({ pod: `${f.namespace}/${f.pod}`, image: f.image, cause: f.cause }, 'reported pull failure');
      } catch (e) {
        this.o.log.warn({ pod: `${f.namespace}/${f.pod}`, err: String(e) }, 'could not write Event');
      }
      return;
    }
    await this.attach(a);
  }

  private async attach(a: Extract<Action, { kind: 'attach-pull-secret' }>): Promise<void> {
    this.state.markAttached(a.namespace, a.serviceAccount, Date.now());
    try {
      const result = await attachPullSecret(this.api, a.namespace, a.serviceAccount, a.secret);
      this.o.metrics?.remediations.inc({ result });
      const f = a.failure;
      await this.recorder.record(
        { namespace: f.namespace, name: f.pod, uid: f.podUid, fieldPath: `spec.containers{${f.container}}` },
        result === 'attached' ? 'Normal' : 'Warning',
        result === 'attached' ? 'PullSecretAttached' : 'PullSecretNotAttached',
        attachedMessage(a.namespace, a.serviceAccount, a.secret, result),
      );
      this.o.log.info({ serviceAccount: `${a.namespace}/${a.serviceAccount}`, secret: a.secret, result }, 'pull-secret remediation');
    } catch (e) {
      this.o.metrics?.remediations.inc({ result: 'error' });
      this.o.log.warn({ serviceAccount: `${a.namespace}/${a.serviceAccount}`, err: String(e) }, 'could not attach pull secret');
    }
  }

  /** The node's os/arch, so the doctor checks the platform the kubelet pulls for. Cached. */
  private async platformOf(nodeName: string | undefined): Promise<string | undefined> {
    if (!nodeName) return undefined;
    const hit = this.nodes.get(nodeName);
    if (hit && Date.now() - hit.at < this.o.intervalMs) return hit.platform;
    let platform: string | undefined;
    try {
      const n = await this.api.get<Node>(`/api/v1/nodes/${encodeURIComponent(nodeName)}`);
      const info = n.status?.nodeInfo;
      if (info?.operatingSystem && info.architecture) platform = `${info.operatingSystem}/${info.architecture}`;
    } catch {
      /* no RBAC for nodes, or gone: the doctor uses its default platform */
    }
    this.nodes.set(nodeName, { ...(platform ? { platform } : {}), at: Date.now() });
    return platform;
  }

  private async runDoctor(a: Extract<Action, { kind: 'diagnose' }>): Promise<Diagnosis> {
    const platform = await this.platformOf(a.nodeName);
    const insecure = this.o.insecureRegistries?.includes(a.registry);
    const opts: DoctorOptions = { ...this.o.doctor, ...(platform ? { platform } : {}), ...(insecure ? { insecure: true } : {}) };
    const d: Diagnosis = { registry: a.registry, image: a.image, at: 0 };
    const one = async (via?: string): Promise<DoctorReport | undefined> => {
      try {
        const r = await this.o.diagnose(a.image, via ? { ...opts, via } : opts);
        this.o.metrics?.doctorRuns.inc({ registry: a.registry, result: r.worst });
        return r;
      } catch (e) {
        this.o.metrics?.doctorRuns.inc({ registry: a.registry, result: 'failed' });
        d.error = (e as Error).message ?? String(e);
        return undefined;
      }
    };
    const direct = await one();
    if (direct) d.direct = direct;
    if (a.gatewayUrl) {
      const via = await one(a.gatewayUrl);
      if (via) {
        d.viaGateway = via;
        d.gatewayUrl = a.gatewayUrl;
      }
    }
    d.at = Date.now();
    this.o.log.info({ registry: a.registry, image: a.image, worst: direct?.worst, error: d.error }, 'doctor ran');
    return d;
  }
}
