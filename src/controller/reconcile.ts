// Pure: what the controller has observed (Pods stuck on a pull, the kubelet's Failed events, doctor
// results) -> what to do next (run the doctor, write an Event, attach a pull secret). No I/O and no
// clock: `now` is passed in, so every rule below is unit-tested with plain data.
//
// The rules that matter:
// - The doctor runs at most once per registry per interval, however many Pods fail against it: a
//   rollout of 500 replicas with a bad tag must not become 500 probes of the registry.
// - A failure is reported once its registry has a fresh diagnosis, then again only when the finding
//   changes or after an interval (the Event recorder turns repeats into count++).
// - Remediation (attaching a pull secret to a ServiceAccount) is proposed only when configured, only
//   for auth failures, only when the Pod does not already list that secret, once per interval.
import { parseImageRef } from '../oci/reference.js';
import { CAUSES, PULL_FAILURE_REASONS, classify, hasCauseDetail, imageFromMessage, policyRefusal, renderFix, type PullCause } from './classify.js';
import type { DoctorReport, Finding } from './doctor-contract.js';
import type { ContainerStatus, KubeEvent, Pod } from './k8s-types.js';

export interface ReconcileConfig {
  /** Doctor runs per registry and repeat reports per Pod are at most this often. */
  intervalMs: number;
  /** When set, auth failures propose attaching this secret to the Pod's ServiceAccount. */
  pullSecret?: string;
  /** A regway gateway to diagnose through as well. */
  gatewayUrl?: string;
  /** Registries the gateway serves; empty or absent means all of them. */
  gatewayRegistries?: readonly string[];
}

/** One container of one Pod that cannot get its image. */
interface PullFailure {
  /** podUid/container */
  key: string;
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  image: string;
  /** Undefined when the reference does not parse (InvalidImageName): nothing to diagnose. */
  registry?: string;
  waitingReason: string;
  /** The most informative message seen: the waiting message or the kubelet's Failed event. */
  message: string;
  cause: PullCause;
  serviceAccount: string;
  pullSecrets: string[];
  nodeName?: string;
  firstSeen: number;
}

/** The doctor's verdict on one registry, direct and (when configured) through the gateway. */
export interface Diagnosis {
  registry: string;
  image: string;
  at: number;
  direct?: DoctorReport;
  viaGateway?: DoctorReport;
  gatewayUrl?: string;
  /** The doctor itself threw: said in the Event rather than hidden. */
  error?: string;
}

export type Action =
  | { kind: 'diagnose'; registry: string; image: string; nodeName?: string; gatewayUrl?: string }
  | { kind: 'report'; failure: PullFailure; reason: string; message: string; signature: string }
  | { kind: 'attach-pull-secret'; namespace: string; serviceAccount: string; secret: string; failure: PullFailure };

/** Kubernetes keeps Event messages short (the kubelet truncates at 1024 bytes); so do we. */
export const MAX_EVENT_MESSAGE = 1024;

function registryOf(image: string): string | undefined {
  try {
    return parseImageRef(image).registry;
  } catch {
    return undefined;
  }
}

function pullFailureOf(pod: Pod, st: ContainerStatus, image: string, now: number, prev?: PullFailure): PullFailure {
  const w = st.state?.waiting ?? {};
  const message = w.message ?? '';
  const keepPrev = prev && !hasCauseDetail(message) && hasCauseDetail(prev.message);
  const best = keepPrev ? prev.message : message;
  const cause = classify({ reason: w.reason, message: best });
  return {
    key: `${pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`}/${st.name}`,
    namespace: pod.metadata.namespace ?? 'default',
    pod: pod.metadata.name ?? '',
    podUid: pod.metadata.uid ?? '',
    container: st.name,
    image,
    ...(cause === 'name-invalid' ? {} : { registry: registryOf(image) }),
    waitingReason: w.reason ?? '',
    message: best,
    cause,
    serviceAccount: pod.spec?.serviceAccountName || 'default',
    pullSecrets: (pod.spec?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter(Boolean),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    firstSeen: prev?.firstSeen ?? now,
  };
}

/** The controller's memory between watch events. Mutated only through the methods below. */
export class ReconcileState {
  readonly failures = new Map<string, PullFailure>();
  /** "ns/pod\0image" -> the latest kubelet Failed-event message for it. */
  readonly details = new Map<string, string>();
  readonly diagnoses = new Map<string, Diagnosis>();
  readonly inflight = new Set<string>();
  readonly reported = new Map<string, { signature: string; at: number }>();
  readonly attached = new Map<string, number>();

  /** Records which containers of this Pod are stuck on a pull; forgets the ones that recovered. */
  observePod(pod: Pod, now: number): void {
    const uid = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const specImages = new Map([...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => [c.name, c.image ?? '']));
    const live = new Set<string>();
    for (const st of statuses) {
      const reason = st.state?.waiting?.reason;
      if (!reason || !PULL_FAILURE_REASONS.has(reason)) continue;
      // The spec holds the image as written; status.image may already be normalised.
      const image = specImages.get(st.name) || st.image || imageFromMessage(st.state?.waiting?.message ?? '') || '';
      const key = `${uid}/${st.name}`;
      let f = pullFailureOf(pod, st, image, now, this.failures.get(key));
      const detail = this.details.get(`${f.namespace}/${f.pod}\0${image}`);
      if (detail && !hasCauseDetail(f.message)) f = { ...f, message: detail, cause: classify({ reason: f.waitingReason, message: detail }) };
      this.failures.set(key, f);
      live.add(key);
    }
    for (const key of this.failures.keys()) {
      if (key.startsWith(`${uid}/`) && !live.has(key)) this.forgetKey(key);
    }
  }

  forgetPod(pod: Pod): void {
    const uid = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
    for (const key of [...this.failures.keys()]) if (key.startsWith(`${uid}/`)) this.forgetKey(key);
    for (const k of [...this.details.keys()]) if (k.startsWith(`${pod.metadata.namespace}/${pod.metadata.name}\0`)) this.details.delete(k);
  }

  private forgetKey(key: string): void {
    this.failures.delete(key);
    this.reported.delete(key);
  }

  /** Keeps the detail of the kubelet's `Failed to pull image` events; they say why when the Pod does not. */
  observeEvent(ev: KubeEvent): void {
    if (ev.involvedObject?.kind !== 'Pod' || ev.reason !== 'Failed') return;
    const msg = ev.message ?? '';
    if (!/^Failed to (?:pull image|apply default image tag)/.test(msg)) return;
    const image = imageFromMessage(msg);
    if (!image) return;
    const ns = ev.involvedObject.namespace ?? ev.metadata.namespace ?? 'default';
    this.details.set(`${ns}/${ev.involvedObject.name}\0${image}`, msg);
    for (const [key, f] of this.failures) {
      if (f.namespace === ns && f.pod === ev.involvedObject.name && f.image === image && !hasCauseDetail(f.message)) {
        this.failures.set(key, { ...f, message: msg, cause: classify({ reason: f.waitingReason, message: msg }) });
      }
    }
  }

  diagnosisStarted(registry: string): void {
    this.inflight.add(registry);
  }

  recordDiagnosis(d: Diagnosis): void {
    this.inflight.delete(d.registry);
    this.diagnoses.set(d.registry, d);
  }

  markReported(key: string, signature: string, now: number): void {
    this.reported.set(key, { signature, at: now });
  }

  markAttached(namespace: string, serviceAccount: string, now: number): void {
    this.attached.set(`${namespace}/${serviceAccount}`, now);
  }

  /** The next actions, in order: doctor runs first, then reports, then remediations. */
  plan(now: number, cfg: ReconcileConfig): Action[] {
    const diagnose: Action[] = [];
    const report: Action[] = [];
    const attach: Action[] = [];
    const byRegistry = new Map<string, PullFailure[]>();
    for (const f of this.failures.values()) {
      if (!f.registry) continue;
      const list = byRegistry.get(f.registry) ?? [];
      list.push(f);
      byRegistry.set(f.registry, list);
    }
    for (const [registry, list] of byRegistry) {
      const d = this.diagnoses.get(registry);
      if (this.inflight.has(registry) || (d && now - d.at < cfg.intervalMs)) continue;
      const first = [...list].sort((a, b) => a.firstSeen - b.firstSeen)[0]!;
      const gw = cfg.gatewayUrl && (!cfg.gatewayRegistries?.length || cfg.gatewayRegistries.includes(registry)) ? cfg.gatewayUrl : undefined;
      diagnose.push({ kind: 'diagnose', registry, image: first.image, ...(first.nodeName ? { nodeName: first.nodeName } : {}), ...(gw ? { gatewayUrl: gw } : {}) });
    }
    for (const f of this.failures.values()) {
      const d = f.registry ? this.diagnoses.get(f.registry) : undefined;
      if (f.registry && (!d || now - d.at >= cfg.intervalMs || this.inflight.has(f.registry))) continue;
      const { reason, message, signature } = describe(f, d, cfg);
      const last = this.reported.get(f.key);
      if (!last || last.signature !== signature || now - last.at >= cfg.intervalMs) {
        report.push({ kind: 'report', failure: f, reason, message, signature });
      }
      const secret = cfg.pullSecret;
      if (secret && f.cause === 'unauthorized' && !f.pullSecrets.includes(secret) && d?.direct?.worst !== 'ok') {
        const at = this.attached.get(`${f.namespace}/${f.serviceAccount}`);
        const dup = attach.some((a) => a.kind === 'attach-pull-secret' && a.namespace === f.namespace && a.serviceAccount === f.serviceAccount);
        if (!dup && (at === undefined || now - at >= cfg.intervalMs)) {
          attach.push({ kind: 'attach-pull-secret', namespace: f.namespace, serviceAccount: f.serviceAccount, secret, failure: f });
        }
      }
    }
    this.prune(now, cfg);
    return [...diagnose, ...report, ...attach];
  }

  /** Diagnoses of registries nobody fails against any more are dropped after two intervals. */
  private prune(now: number, cfg: ReconcileConfig): void {
    const used = new Set([...this.failures.values()].map((f) => f.registry));
    for (const [r, d] of this.diagnoses) if (!used.has(r) && now - d.at > 2 * cfg.intervalMs) this.diagnoses.delete(r);
  }
}

/** The findings worth telling: the errors, or the warnings when there is no error. */
function notable(report: DoctorReport | undefined): Finding[] {
  const all = report?.findings ?? [];
  const errors = all.filter((f) => f.severity === 'error');
  return errors.length ? errors : all.filter((f) => f.severity === 'warn');
}

/** Doctor stages whose findings are about one image, not the registry. */
const IMAGE_STAGES = new Set(['manifest', 'blob', 'upload']);

/**
 * The doctor ran for the first failing image of a registry; for the other images of that registry
 * only its registry-level findings (DNS, TCP, TLS, auth...) apply. Saying "image not found" about an
 * image the doctor never looked at would send people the wrong way.
 */
function applicable(report: DoctorReport | undefined, sameImage: boolean): DoctorReport | undefined {
  if (!report || sameImage) return report;
  return { ...report, findings: report.findings.filter((f) => !IMAGE_STAGES.has(f.stage)) };
}

function summarize(report: DoctorReport | undefined, partial = false): string {
  if (!report) return 'not run';
  const top = notable(report).slice(0, 2);
  if (top.length === 0 && partial) return 'the registry-level checks passed; this image itself was not checked until the next interval';
  if (top.length === 0) return 'the registry answered correctly from the controller, so the failure is specific to the node (its network path, CA bundle, credentials or platform)';
  return top.map((f) => `${f.title}${f.detail ? ` (${f.detail})` : ''}`).join('; ');
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`;
}

/** A sentence with exactly one final period. */
function sentence(s: string): string {
  return `${s.replace(/[.\s]+$/, '')}.`;
}

/** The Event for one failure: reason from the catalogue, a message that names the cause and the fix. */
function describe(f: PullFailure, d: Diagnosis | undefined, cfg: ReconcileConfig): { reason: string; message: string; signature: string } {
  const info = CAUSES[f.cause];
  const refused = f.cause === 'policy' ? policyRefusal(f.message) : undefined;
  const fix = renderFix(f.cause, {
    ...(refused ? { policy: refused.policy, why: clip(refused.why, 200) } : {}),
    image: f.image,
    namespace: f.namespace,
    serviceAccount: f.serviceAccount,
    ...(f.registry ? { registry: f.registry } : {}),
    ...(cfg.pullSecret ? { secret: cfg.pullSecret } : {}),
  });
  const parts = [`regway: ${info.title} (cause: ${f.cause}) pulling "${f.image}"${f.registry ? ` from ${f.registry}` : ''}.`];
  const same = !d || d.image === f.image;
  const direct = applicable(d?.direct, same);
  const via = applicable(d?.viaGateway, same);
  if (d?.error) parts.push(sentence(`Doctor could not run: ${clip(d.error, 160)}`));
  else if (d) {
    parts.push(sentence(`Doctor${same ? '' : ` (registry checks, run for "${d.image}")`}: ${clip(summarize(direct, !same), 300)}`));
    if (via) parts.push(sentence(`Through gateway ${d.gatewayUrl}: ${clip(summarize(via, !same), 200)}`));
    const doctorFix = notable(direct).find((x) => x.fix)?.fix;
    if (doctorFix) parts.push(sentence(`Doctor suggests: ${clip(doctorFix, 240)}`));
  }
  parts.push(sentence(`Fix: ${fix}`));
  const head = parts.join(' ');
  const room = MAX_EVENT_MESSAGE - head.length - 12;
  const message = room > 40 ? `${head} Kubelet: ${clip(f.message, room)}` : clip(head, MAX_EVENT_MESSAGE);
  const codes = d ? [...notable(direct), ...notable(via)].map((x) => x.code).join(',') : '';
  return { reason: info.reason, message, signature: `${f.cause}|${codes}|${d?.error ? 'doctor-error' : ''}` };
}
