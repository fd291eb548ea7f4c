// Brings objects from the Helm chart and from deploy/kustomize to a comparable form. Both are first
// passed through the real API server (`kubectl apply --dry-run=server -o json`), so defaults are filled
// in the same way on both sides (imagePullPolicy, protocol, revisionHistoryLimit...). What is then
// removed differs legitimately, and only that:
// - server-assigned fields: uid, resourceVersion, creationTimestamp, generation, managedFields, status,
//   a Service's clusterIP(s) (allocated at random, also in a dry run);
// - labels that say who deployed it: Helm's app.kubernetes.io/instance (also in selectors: it lets two
//   releases share a namespace), app.kubernetes.io/version, app.kubernetes.io/managed-by and
//   helm.sh/chart; kustomize's app.kubernetes.io/part-of;
// - annotations: Helm's checksum/config on the gateway's Pod template (rolls the gateway when its
//   ConfigMap changes; a kustomize user gets that from a configMapGenerator), kubectl's
//   last-applied-configuration;
// - the ConfigMap's regway.yaml is compared as parsed YAML: Helm renders gateway.config with toYaml
//   (sorted keys), the base is written by hand.
// The Namespace object is in the kustomize base only: a chart does not own its namespace
// (`helm install --create-namespace`); the caller leaves it out.
import { parse } from 'yaml';

export const DEPLOYER_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart', 'app.kubernetes.io/part-of'];
export const DEPLOYER_ANNOTATIONS = ['checksum/config', 'kubectl.kubernetes.io/last-applied-configuration'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface K8sObject { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: Json | undefined }; [k: string]: unknown }

const isStringMap = (v: Json | undefined): v is Record<string, string> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

function without(map: Record<string, string>, keys: string[]): Record<string, string> | undefined {
  const out = Object.fromEntries(Object.entries(map).filter(([k]) => !keys.includes(k)));
  return Object.keys(out).length ? out : undefined;
}

function walk(v: Json, key = ''): Json | undefined {
  if (Array.isArray(v)) return v.map((x) => walk(x) ?? null);
  if (!v || typeof v !== 'object') return v;
  if ((key === 'labels' || key === 'matchLabels' || key === 'selector') && isStringMap(v)) return without(v, DEPLOYER_LABELS);
  if (key === 'annotations' && isStringMap(v)) return without(v, DEPLOYER_ANNOTATIONS);
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) {
    const w = walk(x, k);
    if (w !== undefined) out[k] = w;
  }
  return out;
}

export function normalize(o: K8sObject): K8sObject {
  const { uid: _u, resourceVersion: _r, creationTimestamp: _c, generation: _g, managedFields: _m, ...meta } = o.metadata;
  const { status: _s, ...rest } = o;
  const n = walk({ ...rest, metadata: meta } as Json) as K8sObject;
  if (n.kind === 'Service' && n.spec) { const spec = n.spec as Record<string, Json>; delete spec.clusterIP; delete spec.clusterIPs; }
  if (n.kind === 'ConfigMap' && n.data) {
    const data = n.data as Record<string, Json>;
    for (const [k, text] of Object.entries(data)) if (k.endsWith('.yaml') && typeof text === 'string') data[k] = parse(text) as Json;
  }
  return n;
}

/** kind/name -> normalized object. */
export function byKindName(objs: K8sObject[]): Map<string, K8sObject> {
  return new Map(objs.map((o) => [`${o.kind}/${o.metadata.name}`, normalize(o)]));
}
