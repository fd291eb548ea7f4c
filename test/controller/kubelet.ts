// Plays the kubelet against the real kube-apiserver (there is none in the test control plane): creates
// the Pod bound to a node, pulls its image with a REAL containerd (ctr, the runtime behind the
// kubelet's CRI) against the registries the test started, and on failure writes what the kubelet
// writes, through the same API calls: the container's waiting state through the pods/status
// subresource (ErrImagePull with the runtime's error, later ImagePullBackOff) and the Events
// "Failed to pull image ...", "Error: ErrImagePull", "Back-off pulling image ...".
// The message formats are those of the kubelet's image manager (pkg/kubelet/images): the waiting
// message of ErrImagePull is the CRI error itself; ImagePullBackOff's is `Back-off pulling image "X"`,
// followed since 1.32 by `: ErrImagePull: <the last error>`. A cluster may run 1.31 kubelets under a
// 1.32 control plane (version skew), so both are played.
import { randomBytes } from 'node:crypto';
import { ctrPullRaw, type Containerd } from '../helpers/clients.js';
import type { KubeApi } from '../../src/controller/kube-client.js';
import type { KubeEvent, Pod } from '../../src/controller/k8s-types.js';
import { rfc3339 } from '../../src/controller/k8s-types.js';

export interface SimPod { name: string; namespace: string; image: string; serviceAccount?: string; pullSecrets?: string[]; node?: string }

const podsPath = (ns: string): string => `/api/v1/namespaces/${ns}/pods`;

/** Creates the Pod as a Deployment's ReplicaSet would, already bound to its node (no scheduler here). */
export async function createPod(api: KubeApi, p: SimPod): Promise<Pod> {
  return api.post<Pod>(podsPath(p.namespace), {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      nodeName: p.node ?? 'node-1', serviceAccountName: p.serviceAccount ?? 'default',
      ...(p.pullSecrets ? { imagePullSecrets: p.pullSecrets.map((name) => ({ name })) } : {}),
      containers: [{ name: 'app', image: p.image }],
    },
  });
}

/** The kubelet's status update for the one container, through the status subresource. */
export async function setWaiting(api: KubeApi, p: SimPod, waiting: { reason: string; message?: string }): Promise<Pod> {
  return api.patch<Pod>(`${podsPath(p.namespace)}/${p.name}/status`, {
    status: {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
      containerStatuses: [{ name: 'app', image: p.image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting } }],
    },
  }, 'application/strategic-merge-patch+json');
}

export async function kubeletEvent(api: KubeApi, p: SimPod, uid: string, reason: string, type: 'Normal' | 'Warning', message: string): Promise<void> {
  const now = rfc3339(Date.now());
  const ev: KubeEvent = {
    metadata: { name: `${p.name}.${randomBytes(8).toString('hex')}`, namespace: p.namespace },
    involvedObject: { kind: 'Pod', namespace: p.namespace, name: p.name, uid, apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
    reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
    source: { component: 'kubelet', host: p.node ?? 'node-1' }, reportingComponent: 'kubelet', reportingInstance: p.node ?? 'node-1',
  };
  await api.post(`/api/v1/namespaces/${p.namespace}/events`, ev);
}

/** The runtime's error as the CRI returns it: ctr's last line without its "ctr: " prefix. */
export function runtimeError(stderr: string): string {
  const last = stderr.trim().split('\n').filter((l) => l.startsWith('ctr: ')).pop() ?? stderr.trim().split('\n').pop() ?? '';
  return last.replace(/^ctr: /, '');
}

export interface PullFailure { uid: string; criError: string }

/** Creates the Pod and pulls like the kubelet; returns the CRI error (throws if the pull worked). */
export async function kubeletPull(api: KubeApi, ctrd: Containerd, hostsDir: string, p: SimPod, platform = 'linux/amd64'): Promise<PullFailure> {
  const uid = (await createPod(api, p)).metadata.uid!;
  await setWaiting(api, p, { reason: 'ContainerCreating' });
  await kubeletEvent(api, p, uid, 'Pulling', 'Normal', `Pulling image "${p.image}"`);
  const r = await ctrPullRaw(ctrd, p.image, hostsDir, { platform, timeoutMs: 60_000 });
  if (r.code === 0) throw new Error(`the pull of ${p.image} succeeded; the scenario expects a failure`);
  const err = runtimeError(r.stderr);
  const code = /not found/.test(err) ? 'NotFound' : 'Unknown';
  const criError = `rpc error: code = ${code} desc = failed to pull and unpack image "${p.image}": ${err}`;
  await setWaiting(api, p, { reason: 'ErrImagePull', message: criError });
  await kubeletEvent(api, p, uid, 'Failed', 'Warning', `Failed to pull image "${p.image}": ${criError}`);
  await kubeletEvent(api, p, uid, 'Failed', 'Warning', 'Error: ErrImagePull');
  return { uid, criError };
}

/** The kubelet backs off. A 1.31 kubelet's waiting message no longer says why; a 1.32 one appends the last error. */
export async function backOff(api: KubeApi, p: SimPod, f: PullFailure, kubelet: '1.31' | '1.32' = '1.32'): Promise<void> {
  const base = `Back-off pulling image "${p.image}"`;
  await kubeletEvent(api, p, f.uid, 'BackOff', 'Normal', base);
  await kubeletEvent(api, p, f.uid, 'Failed', 'Warning', 'Error: ImagePullBackOff');
  await setWaiting(api, p, { reason: 'ImagePullBackOff', message: kubelet === '1.32' ? `${base}: ErrImagePull: ${f.criError}` : base });
}
