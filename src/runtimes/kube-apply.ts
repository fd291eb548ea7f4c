// `regway config apply --reload` for the kubernetes target: puts the pull Secret and the ServiceAccounts' reference
// to it on the cluster with kubectl (which brings the kubeconfig's auth plugins, contexts and CAs). Two different
// write strategies, because the API server treats the two objects differently:
// - The Secret: server-side apply (field manager "regway"). The server compares, so re-applying the same Secret
//   writes nothing (its resourceVersion stays). Client-side `kubectl apply` would also store the whole Secret,
//   credentials included, in a kubectl.kubernetes.io/last-applied-configuration annotation. --force-conflicts: the
//   declarative file owns this Secret's data, also when someone created it with `kubectl create secret` before.
// - Each ServiceAccount: read-compare-write. imagePullSecrets is an atomic list (no merge key): a strategic merge
//   patch or client-side apply of [{name: regcred}] replaces the list, dropping the account's other pull secrets, and a
//   server-side apply conflicts with whoever set the list. So: read it; when the secret is listed, do nothing; else
//   send the whole list plus the secret as a JSON merge patch guarded by the resourceVersion that was read (a
//   concurrent edit gets 409 and a re-read, never an overwrite). A missing ServiceAccount is created with the secret.
import type { Spec } from './spec.js';

export interface KubectlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** Runs kubectl with these arguments (the kubeconfig is already among them) and optional stdin. */
type Kubectl = (args: string[], input?: string) => KubectlResult;

interface ServiceAccountObj {
  metadata?: { resourceVersion?: string };
  imagePullSecrets?: Array<{ name?: string }>;
}

/** The merge patch that adds `secret` to the account's list, or undefined when it is already there. Pure. */
export function pullSecretPatch(sa: ServiceAccountObj, secret: string): Record<string, unknown> | undefined {
  const list = (sa.imagePullSecrets ?? []).filter((s) => s.name);
  if (list.some((s) => s.name === secret)) return undefined;
  return { metadata: { resourceVersion: sa.metadata?.resourceVersion }, imagePullSecrets: [...list, { name: secret }] };
}

function must(r: KubectlResult, what: string, kubeconfig: string): KubectlResult {
  if (r.status === 0) return r;
  throw new Error(`${what} failed: ${r.stderr.trim() || 'kubectl not found (install kubectl)'}; check the kubeconfig ${kubeconfig} and its permissions, or apply by hand`);
}

const CONFLICT = /Conflict|the object has been modified/;

function attach(kubectl: Kubectl, ns: string[], sa: string, secret: string, kubeconfig: string): string {
  for (let attempt = 0; ; attempt++) {
    const got = must(kubectl(['get', 'serviceaccount', sa, ...ns, '-o', 'json', '--ignore-not-found']), `kubectl get serviceaccount ${sa}`, kubeconfig);
    if (!got.stdout.trim()) {
      const obj = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa }, imagePullSecrets: [{ name: secret }] };
      must(kubectl(['create', ...ns, '-f', '-'], JSON.stringify(obj)), `kubectl create serviceaccount ${sa}`, kubeconfig);
      return `serviceaccount/${sa} created with imagePullSecrets ${secret}`;
    }
    const patch = pullSecretPatch(JSON.parse(got.stdout) as ServiceAccountObj, secret);
    if (!patch) return `serviceaccount/${sa} unchanged (already lists ${secret})`;
    const r = kubectl(['patch', 'serviceaccount', sa, ...ns, '--type=merge', '-p', JSON.stringify(patch)]);
    if (r.status === 0) return `serviceaccount/${sa}: imagePullSecrets ${(patch.imagePullSecrets as Array<{ name: string }>).map((s) => s.name).join(', ')}`;
    if (!CONFLICT.test(r.stderr) || attempt >= 3) must(r, `kubectl patch serviceaccount ${sa}`, kubeconfig);
  }
}

/** Applies the rendered file (its Secret) and the ServiceAccount references; one line of outcome per object. */
export function applyToCluster(spec: Spec, file: string, kubeconfig: string, run: Kubectl): string[] {
  const k = spec.kubernetes;
  const kubectl: Kubectl = (args, input) => run(['--kubeconfig', kubeconfig, ...args], input);
  const ns = k.namespace ? ['-n', k.namespace] : [];
  const rv = ['-o', 'jsonpath={.metadata.resourceVersion}'];
  const before = must(kubectl(['get', 'secret', k.secretName, ...ns, ...rv, '--ignore-not-found']), `kubectl get secret ${k.secretName}`, kubeconfig).stdout.trim();
  const after = must(kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=regway', ...ns, '-f', file, ...rv]), `kubectl apply --server-side -f ${file}`, kubeconfig).stdout.trim();
  const outcome = !before ? 'created' : before === after ? 'unchanged' : 'configured';
  return [`secret/${k.secretName} ${outcome} (server-side apply)`, ...k.serviceAccounts.map((sa) => attach(kubectl, ns, sa, k.secretName, kubeconfig))];
}
