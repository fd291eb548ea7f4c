// The one remediation the controller may perform, and only when the operator named a secret with
// --pull-secret: add that secret to a ServiceAccount's imagePullSecrets. It is safe (additive, no
// image is rewritten, nothing is deleted) and limited: the admission controller copies a
// ServiceAccount's pull secrets into a Pod only when the Pod is created, so Pods that already
// exist keep failing until they are recreated. The Event says exactly that.
//
// imagePullSecrets has no merge key, so a strategic-merge patch would replace the whole list; we
// read the ServiceAccount and send a JSON merge patch of the full new list guarded by its
// resourceVersion, so a concurrent edit gets a 409 and a retry instead of being overwritten.
import { isKubeStatus, type KubeApi } from './kube-client.js';
import type { ServiceAccount } from './k8s-types.js';

type AttachResult = 'attached' | 'already-present' | 'no-service-account';

export async function attachPullSecret(api: KubeApi, namespace: string, serviceAccount: string, secret: string): Promise<AttachResult> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}`;
  for (let attempt = 0; ; attempt++) {
    let sa: ServiceAccount;
    try {
      sa = await api.get<ServiceAccount>(path);
    } catch (e) {
      if (isKubeStatus(404, e)) return 'no-service-account';
      throw e;
    }
    const list = (sa.imagePullSecrets ?? []).filter((s) => s.name);
    if (list.some((s) => s.name === secret)) return 'already-present';
    try {
      await api.patch(path, { metadata: { resourceVersion: sa.metadata.resourceVersion }, imagePullSecrets: [...list, { name: secret }] }, 'application/merge-patch+json');
      return 'attached';
    } catch (e) {
      if (isKubeStatus(409, e) && attempt < 3) continue;
      throw e;
    }
  }
}

/** The Event text after an attachment: what was done, and that only new Pods pick it up. */
export function attachedMessage(namespace: string, serviceAccount: string, secret: string, result: AttachResult): string {
  if (result === 'attached') {
    return `regway attached imagePullSecret "${secret}" to ServiceAccount ${namespace}/${serviceAccount}. Only Pods created from now on pick it up: this Pod keeps failing until it is recreated (kubectl delete pod, or kubectl rollout restart for its workload). The secret must exist in ${namespace}.`;
  }
  if (result === 'already-present') {
    return `ServiceAccount ${namespace}/${serviceAccount} already lists imagePullSecret "${secret}" but this Pod does not: it was created before; recreate it. If it still fails, the secret's credentials are wrong for this registry.`;
  }
  return `ServiceAccount ${namespace}/${serviceAccount} does not exist; regway did not attach "${secret}".`;
}
