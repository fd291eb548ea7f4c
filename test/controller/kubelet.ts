// Plays the kubelet for the in-test API server: creates a Pod, pulls its image with a REAL
// containerd (ctr, the runtime behind the kubelet's CRI) against the registries the test started,
// and on failure writes what the kubelet writes: the container's waiting state (ErrImagePull with
// the runtime's error, later ImagePullBackOff with "Back-off pulling image") and the Warning Events
// "Failed to pull image ...: rpc error: code = ... desc = failed to pull and unpack image ...".
import { randomUUID } from 'node:crypto';
import { ctrPullRaw, type Containerd } from '../helpers/clients.js';
import type { FakeApiServer } from './fake-apiserver.js';
import type { KubeEvent, Pod } from '../../src/controller/k8s-types.js';

export interface SimPod { name: string; namespace: string; image: string; serviceAccount?: string; pullSecrets?: string[]; node?: string }

function podObject(p: SimPod, waiting: { reason: string; message?: string }): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      nodeName: p.node ?? 'node-1', serviceAccountName: p.serviceAccount ?? 'default',
      ...(p.pullSecrets ? { imagePullSecrets: p.pullSecrets.map((name) => ({ name })) } : {}),
      containers: [{ name: 'app', image: p.image }],
    },
    status: { phase: 'Pending', containerStatuses: [{ name: 'app', image: p.image, imageID: '', ready: false, restartCount: 0, state: { waiting } }] },
  };
}

function kubeletEvent(api: FakeApiServer, p: SimPod, uid: string, reason: string, type: string, message: string): void {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const ev: KubeEvent = {
    metadata: { name: `${p.name}.${randomUUID().replace(/-/g, '').slice(0, 16)}`, namespace: p.namespace },
    involvedObject: { kind: 'Pod', namespace: p.namespace, name: p.name, uid, apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
    reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
    source: { component: 'kubelet', host: p.node ?? 'node-1' }, reportingComponent: 'kubelet', reportingInstance: p.node ?? 'node-1',
  };
  api.upsert('events', ev);
}

/** The runtime's error as the CRI returns it: ctr's last line without its "ctr: " prefix. */
export function runtimeError(stderr: string): string {
  const last = stderr.trim().split('\n').filter((l) => l.startsWith('ctr: ')).pop() ?? stderr.trim().split('\n').pop() ?? '';
  return last.replace(/^ctr: /, '');
}

/** Creates the Pod and pulls like the kubelet; returns the kubelet's message (throws if the pull worked). */
export async function kubeletPull(api: FakeApiServer, ctrd: Containerd, hostsDir: string, p: SimPod, platform = 'linux/amd64'): Promise<string> {
  const created = api.upsert('pods', podObject(p, { reason: 'ContainerCreating' }));
  const uid = created.metadata.uid!;
  kubeletEvent(api, p, uid, 'Pulling', 'Normal', `Pulling image "${p.image}"`);
  const r = await ctrPullRaw(ctrd, p.image, hostsDir, { platform, timeoutMs: 60_000 });
  if (r.code === 0) throw new Error(`the pull of ${p.image} succeeded; the scenario expects a failure`);
  const err = runtimeError(r.stderr);
  const code = /not found/.test(err) ? 'NotFound' : 'Unknown';
  const desc = `rpc error: code = ${code} desc = failed to pull and unpack image "${p.image}": ${err}`;
  api.upsert('pods', podObject(p, { reason: 'ErrImagePull', message: desc }));
  kubeletEvent(api, p, uid, 'Failed', 'Warning', `Failed to pull image "${p.image}": ${desc}`);
  kubeletEvent(api, p, uid, 'Failed', 'Warning', 'Error: ErrImagePull');
  return `Failed to pull image "${p.image}": ${desc}`;
}

/** The kubelet backs off: the waiting message no longer says why (before Kubernetes 1.32). */
export function backOff(api: FakeApiServer, p: SimPod): void {
  api.upsert('pods', podObject(p, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${p.image}"` }));
}
