// `regway trace`: reads this node's Docker, containerd and Podman settings (or a tree under --root, through the
// runtimes module's snapshot reader) and shows, per runtime, which endpoints a pull of one image tries, in order,
// with the exact request each gets, then probes them to say which would answer.
import { parseImageRef } from '../../oci/reference.js';
import { validateSpec, type Spec } from '../../runtimes/spec.js';
import { readSnapshot } from '../../runtimes/targets.js';
import { containerdTrace } from './containerd.js';
import { containersTrace } from './containers.js';
import { dockerTrace } from './docker.js';
import { probeRuntime } from './probe.js';
import type { BlobSource, RuntimeName, TraceReport } from './types.js';

export type { TraceReport, RuntimeTrace, TraceEndpoint, RuntimeName } from './types.js';

export interface TraceOptions {
  /** Tree to read instead of / (a chroot, a mounted node image, a test tree). */
  root?: string;
  /** Node paths, when they differ from the defaults (/etc/docker/daemon.json, /etc/containerd/certs.d, /etc/containers/registries.conf). */
  daemonJson?: string;
  certsDir?: string;
  registriesConf?: string;
  runtimes?: RuntimeName[];
  /** false: only resolve, do not contact any endpoint. */
  probe?: boolean;
  timeoutMs?: number;
}

function specFor(o: TraceOptions): Spec {
  return validateSpec(
    {
      docker: { ...(o.daemonJson ? { daemonJson: o.daemonJson } : {}) },
      containerd: { ...(o.certsDir ? { certsDir: o.certsDir } : {}) },
      containers: { ...(o.registriesConf ? { registriesConf: o.registriesConf } : {}) },
    },
    'trace options',
  );
}

export async function trace(image: string, o: TraceOptions = {}): Promise<TraceReport> {
  const ref = parseImageRef(image);
  const spec = specFor(o);
  const snap = readSnapshot(o.root ?? '/', spec);
  const want = o.runtimes ?? ['docker', 'containerd', 'podman'];
  const c = spec.containers;
  const runtimes = [
    ...(want.includes('docker') ? [dockerTrace(ref, snap.files.get(spec.docker.daemonJson), spec.docker.daemonJson)] : []),
    ...(want.includes('containerd') ? [containerdTrace(ref, snap, spec.containerd.certsDir, spec.containerd.configToml)] : []),
    ...(want.includes('podman') ? [containersTrace(ref, snap, [c.registriesConf, ...snap.dropIns.map((n) => `${c.dropInDir}/${n}`)])] : []),
  ];
  if (o.probe !== false) await Promise.all(runtimes.map((t) => probeRuntime(t, o.timeoutMs ?? 10_000, ref.registry)));
  return { image, registry: ref.registry, name: ref.name, reference: ref.digest ?? ref.tag ?? 'latest', probed: o.probe !== false, runtimes };
}

/** Where the blob bytes come from, in one line. Pure. */
export function blobLine(b: BlobSource, endpoint: string): string {
  if (b.error && !b.redirectedTo) return `blob bytes: could not ask for one (${b.error})`;
  if (!b.redirectedTo) return `blob bytes: from ${endpoint} itself (${b.status} for ${b.digest})`;
  const target = b.error
    ? `fails: ${b.error}`
    : b.targetStatus === 200 || b.targetStatus === 206
      ? `answers ${b.targetStatus}`
      : `answers ${b.targetStatus}: the pull fails there (regway doctor says why: expired or refused signature, clock skew, unreachable)`;
  return `blob bytes: redirected (${b.status}) to ${b.redirectedTo}, which ${target}`;
}

/** Human output. Pure. */
export function formatTrace(r: TraceReport): string {
  const out = [`${r.image} (registry ${r.registry}, repository ${r.name}, ${r.reference})`];
  for (const t of r.runtimes) {
    out.push(`${t.runtime}:`);
    for (const n of t.notes) out.push(`  note: ${n}`);
    t.endpoints.forEach((e, i) => {
      const p = e.probe;
      const res = e.skipped
        ? `skipped: ${e.skipped}`
        : !r.probed
          ? 'not probed'
          : !p
            ? 'not reached (an earlier endpoint answers)'
            : p.error
              ? `fails: ${p.error}`
              : `${p.status}${p.digest ? ` ${p.digest}` : ''}${p.said ? `: ${p.said}` : ''}${p.url && p.url !== e.url ? ` (over ${p.url})` : ''}`;
      out.push(`  ${i + 1}. ${e.role.padEnd(6)} ${e.url}${e.request}${e.insecure ? ' [insecure]' : ''}`);
      out.push(`       ${res}   (${e.source})`);
      if (p?.policy) out.push(`       ${p.policy}`);
    });
    const a = t.answeredBy !== undefined ? t.endpoints[t.answeredBy] : undefined;
    if (r.probed) out.push(a ? `  => ${t.runtime} gets the manifest from ${a.probe?.url ?? a.url}` : `  => no endpoint serves it: ${t.runtime} pull fails`);
    if (r.probed && a?.blob) out.push(`  => ${blobLine(a.blob, a.probe?.url ?? a.url)}`);
  }
  return out.join('\n') + '\n';
}
