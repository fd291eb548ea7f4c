// End to end: real registries started here, real pulls by a real containerd playing the kubelet
// (its errors written into a real kube-apiserver through pods/status and Events), the real doctor,
// and the controller (with leader election on a real Lease) watching that API server. Each scenario
// must end with an Event on the Pod that names the cause and the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { useControlPlane } from '../helpers/kube.js';
import { kubeletPull, backOff, type PullFailure, type SimPod } from './kubelet.js';
import { startTlsRegistry, type TlsRegistry } from './tls-registry.js';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, pushIndex } from '../helpers/images.js';
import { startContainerd, writeHostsToml, type Containerd } from '../helpers/clients.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';
import { Controller } from '../../src/controller/controller.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { kubeApiFromConfig, loadKubeConfig } from '../../src/controller/kube-client.js';
import { EventRecorder } from '../../src/controller/events.js';
import { runDoctor } from '../../src/diagnose/doctor/index.js';
import type { DoctorOptions } from '../../src/controller/doctor-contract.js';
import type { KubeEvent, Lease, ObjectList, ServiceAccount } from '../../src/controller/k8s-types.js';
import { silentLogger } from '../../src/obs/logger.js';
import { waitFor } from '../helpers/wait.js';

const NS = 'team-a';
const cp = useControlPlane({
  setup: async ({ api }) => {
    for (const name of [NS, 'regway-system']) await api.post('/api/v1/namespaces', { metadata: { name } });
    // No controller-manager: nothing creates the "default" ServiceAccount, so the test does.
    await api.post(`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'default' } });
    // The node the Pods are bound to, with the platform its kubelet reports in status.nodeInfo.
    await api.post('/api/v1/nodes', { metadata: { name: 'node-1' } });
    await api.patch('/api/v1/nodes/node-1/status', { status: { nodeInfo: { operatingSystem: 'linux', architecture: 'amd64' } } }, 'application/strategic-merge-patch+json');
  },
});
let dir: string;
let ctrd: Containerd;
let hosts: string;
let authReg: Distribution;
let missingReg: Distribution;
let platformReg: Distribution;
let tlsReg: TlsRegistry;
let gw: TestGateway;
let deadHost: string;

before(async () => {
  dir = makeTempDir('ctl');
  [ctrd, authReg, missingReg, platformReg, tlsReg] = await Promise.all([
    startContainerd(),
    startDistribution({ htpasswd: { user: 'alice', password: 's3cret' } }),
    startDistribution(),
    startDistribution(),
    startTlsRegistry(),
  ]);
  await pushImage(authReg.url, 'app', 'v1', { layers: 1, layerSize: 512, auth: { user: 'alice', password: 's3cret' } });
  await pushImage(missingReg.url, 'app', 'v1', { layers: 1, layerSize: 512 });
  // "Single-arch image": an index that lists only linux/arm64, pulled on a linux/amd64 node.
  await pushIndex(platformReg.url, 'app', 'v1', [{ os: 'linux', architecture: 'arm64' }], { layers: 1, layerSize: 512 });
  deadHost = `127.0.0.1:${await freePort()}`;
  gw = await startGateway({ registries: { [missingReg.host]: [missingReg.url] } });
  hosts = join(dir, 'certs.d');
  mkdirSync(hosts);
  // The node's containerd registry config: plain HTTP for the lab registries, TLS (CA not installed) for tlsReg.
  // (containerd 1.6 rejects a hosts.toml without a [host] table and then falls back to its defaults.)
  const node = (host: string, url: string): void => { writeHostsToml(hosts, host, { server: url, mirrors: [{ url }] }); };
  for (const r of [authReg, missingReg, platformReg]) node(r.host, r.url);
  node(deadHost, `http://${deadHost}`);
  node(tlsReg.host, tlsReg.url);
});

after(async () => {
  await Promise.allSettled([ctrd?.stop(), authReg?.stop(), missingReg?.stop(), platformReg?.stop(), tlsReg?.stop(), gw?.stop()]);
  if (dir) removeTempDir(dir);
});

const until = <T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 60_000): Promise<T> => waitFor(f, what, ms) as Promise<T>;

async function ours(pod: string, reason?: string): Promise<KubeEvent[]> {
  const list = await cp().api.get<ObjectList<KubeEvent>>(`/api/v1/namespaces/${NS}/events`);
  return list.items.filter((e) => e.source?.component === 'regway-controller' && e.involvedObject.name === pod && (!reason || e.reason === reason));
}
const some = async <T>(p: Promise<T[]>): Promise<T[] | undefined> => { const v = await p; return v.length ? v : undefined; };

test('every real pull failure ends as an Event on its Pod naming the cause and the fix', async () => {
  const calls: Array<{ image: string; opts: DoctorOptions }> = [];
  const metrics = new ControllerMetrics();
  const ctl = new Controller({
    api: kubeApiFromConfig(loadKubeConfig({ kubeconfig: cp().kubeconfig })),
    diagnose: (image, opts) => { calls.push({ image, opts }); return runDoctor(image, { ...opts, timeoutMs: 5_000, sampleBytes: 4096 }); },
    log: silentLogger(), metrics, namespaces: [NS], identity: 'ctl-test', intervalMs: 10 * 60_000,
    pullSecret: 'regcred', gatewayUrl: gw.url, gatewayRegistries: [missingReg.host],
    insecureRegistries: [authReg.host, missingReg.host, platformReg.host, deadHost],
    leaderElection: { namespace: 'regway-system', name: 'regway-controller', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
    debounceMs: 100,
  });
  ctl.start();
  try {
    const scenarios: Array<{ pod: SimPod; reason: string; cause: string; doctor: RegExp; fix: RegExp }> = [
      { pod: { name: 'auth', namespace: NS, image: `${authReg.host}/app:v1` }, reason: 'PullUnauthorized', cause: 'unauthorized', doctor: /login required|credentials/i, fix: /kubectl -n team-a create secret docker-registry regcred --docker-server=127\.0\.0\.1:\d+/ },
      { pod: { name: 'missing-0', namespace: NS, image: `${missingReg.host}/app:nope` }, reason: 'PullManifestUnknown', cause: 'manifest-unknown', doctor: /image not found/i, fix: /check the tag/ },
      { pod: { name: 'platform', namespace: NS, image: `${platformReg.host}/app:v1` }, reason: 'PullPlatformMismatch', cause: 'platform-mismatch', doctor: /no image for this platform/i, fix: /nodeSelector/ },
      { pod: { name: 'tls', namespace: NS, image: `${tlsReg.host}/app:v1` }, reason: 'PullTLSError', cause: 'tls', doctor: /certificate|CA/i, fix: /install the registry CA/ },
      { pod: { name: 'dead', namespace: NS, image: `${deadHost}/app:v1` }, reason: 'PullConnectionRefused', cause: 'connection-refused', doctor: /connection refused/i, fix: /listens on that port/ },
    ];
    // Four more Pods of the same missing tag: the doctor must still run once for that registry.
    const extra = [1, 2, 3, 4].map((i) => ({ name: `missing-${i}`, namespace: NS, image: `${missingReg.host}/app:nope` }));
    const { api } = cp();
    const kubelet: Record<string, PullFailure> = {};
    for (const s of scenarios) kubelet[s.pod.name] = await kubeletPull(api, ctrd, hosts, s.pod);
    for (const p of extra) kubelet[p.name] = await kubeletPull(api, ctrd, hosts, p);
    // A 1.32 kubelet keeps the cause in the back-off message; a 1.31 one (still allowed under a 1.32
    // control plane) does not, and the controller must take it from the kubelet's Failed Event.
    await backOff(api, scenarios[1]!.pod, kubelet[scenarios[1]!.pod.name]!, '1.32');
    for (const p of extra) await backOff(api, p, kubelet[p.name]!, '1.31');
    assert.match(kubelet.platform!.criError, /no match for platform in manifest/, 'containerd itself refused the platform');
    assert.match(kubelet.tls!.criError, /x509|certificate/, 'containerd itself failed TLS');
    for (const s of scenarios) {
      const [ev] = await until(() => some(ours(s.pod.name, s.reason)), `the ${s.reason} Event on ${s.pod.name}`);
      assert.equal(ev!.type, 'Warning');
      assert.equal(ev!.involvedObject.kind, 'Pod');
      assert.equal(ev!.involvedObject.uid, kubelet[s.pod.name]!.uid);
      assert.equal(ev!.involvedObject.fieldPath, 'spec.containers{app}');
      assert.match(ev!.message!, new RegExp(`cause: ${s.cause}`), ev!.message);
      assert.match(ev!.message!, s.doctor, ev!.message);
      assert.match(ev!.message!, s.fix, ev!.message);
      assert.ok(ev!.message!.length <= 1024);
    }
    for (const p of extra) await until(() => some(ours(p.name, 'PullManifestUnknown')), `the Event on ${p.name}`);
    if (process.env.SHOW_EVENTS) console.log(await cp().kubectlOk(['-n', NS, 'get', 'events', '--field-selector', 'source=regway-controller']));
    // One doctor run per registry (plus one through the gateway for the registry it serves).
    const per = new Map<string, number>();
    for (const c of calls) { const k = `${c.image.split('/')[0]}${c.opts.via ? ' via' : ''}`; per.set(k, (per.get(k) ?? 0) + 1); }
    for (const r of [authReg.host, missingReg.host, platformReg.host, tlsReg.host, deadHost]) assert.equal(per.get(r), 1, `doctor runs for ${r}`);
    assert.equal(per.get(`${missingReg.host} via`), 1);
    assert.equal(calls.find((c) => c.image.startsWith(platformReg.host))!.opts.platform, 'linux/amd64', "the node's platform");
    const missingEv = (await ours('missing-2', 'PullManifestUnknown'))[0]!;
    assert.match(missingEv.message!, new RegExp(`Through gateway ${gw.url.replace(/[.]/g, '\\.')}: image not found`), missingEv.message);
    // Remediation: the ServiceAccount got the secret, and the Pod was told only new Pods pick it up.
    const sa = await api.get<ServiceAccount>(`/api/v1/namespaces/${NS}/serviceaccounts/default`);
    assert.deepEqual(sa.imagePullSecrets, [{ name: 'regcred' }]);
    const [attached] = await until(() => some(ours('auth', 'PullSecretAttached')), 'the PullSecretAttached Event');
    assert.equal(attached!.type, 'Normal');
    assert.match(attached!.message!, /Only Pods created from now on pick it up/);
    // Nothing was rewritten: the controller (its user agent in the audit log) never wrote a Pod.
    const mine = cp().audit().filter((e) => e.userAgent === 'regway-controller');
    assert.ok(mine.length > 0);
    assert.deepEqual(mine.filter((e) => e.objectRef?.resource === 'pods' && !['list', 'watch', 'get'].includes(e.verb)), []);
    assert.deepEqual(mine.filter((e) => (e.responseStatus?.code ?? 0) >= 400 && !(e.objectRef?.resource === 'leases' && e.responseStatus?.code === 404)).map((e) => `${e.verb} ${e.requestURI} ${e.responseStatus?.code}`), [], 'no request of the controller failed');
    // Metrics.
    const text = await metrics.registry.metrics();
    assert.match(text, /regway_controller_findings_total\{cause="manifest-unknown"\} 5/);
    assert.match(text, /regway_controller_findings_total\{cause="unauthorized"\} 1/);
    assert.match(text, /regway_controller_doctor_runs_total\{registry="127\.0\.0\.1:\d+",result="error"\} \d/);
    assert.match(text, /regway_controller_leader 1/);
    assert.match(text, /regway_controller_failing_containers\{cause="manifest-unknown"\} 5/);
    // A deleted Pod is forgotten. It is bound to a node, so the API server only marks it
    // (deletionTimestamp) until its kubelet confirms with a zero grace period.
    await cp().kubectlOk(['-n', NS, 'delete', 'pod', 'dead', '--wait=false']);
    assert.ok([...ctl.state.failures.values()].some((f) => f.pod === 'dead'), 'still failing while it terminates');
    await cp().kubectlOk(['-n', NS, 'delete', 'pod', 'dead', '--grace-period=0', '--force']);
    await until(() => ![...ctl.state.failures.values()].some((f) => f.pod === 'dead') || undefined, 'the deleted Pod to be forgotten');
  } finally {
    await ctl.stop();
  }
  // Graceful stop released the Lease.
  const lease = await cp().api.get<Lease>('/apis/coordination.k8s.io/v1/namespaces/regway-system/leases/regway-controller');
  assert.equal(lease.spec!.holderIdentity, '');
});

test('Event recorder aggregates repeats like the kubelet (count, lastTimestamp) and recreates expired Events', async () => {
  const kapi = cp().api;
  let now = Date.parse('2026-11-30T10:00:00Z');
  const rec = new EventRecorder({ api: kapi, now: () => now });
  const target = { namespace: NS, name: 'agg', uid: 'uid-agg', fieldPath: 'spec.containers{app}' };
  const first = await rec.record(target, 'Warning', 'PullTimeout', 'same message');
  now += 60_000;
  await rec.record(target, 'Warning', 'PullTimeout', 'same message');
  now += 60_000;
  const third = await rec.record(target, 'Warning', 'PullTimeout', 'same message');
  assert.equal(third.metadata.name, first.metadata.name);
  assert.equal(third.count, 3);
  assert.equal(third.firstTimestamp, '2026-11-30T10:00:00Z');
  assert.equal(third.lastTimestamp, '2026-11-30T10:02:00Z');
  const patches = cp().audit().filter((e) => e.verb === 'patch' && e.objectRef?.resource === 'events' && e.objectRef.name === first.metadata.name);
  assert.deepEqual(patches.map((e) => e.responseStatus?.code), [200, 200]);
  // A different message is a different Event.
  const other = await rec.record(target, 'Warning', 'PullTimeout', 'another message');
  assert.notEqual(other.metadata.name, first.metadata.name);
  // The Event expired (TTL): the next repeat creates a fresh one with count 1.
  await cp().kubectlOk(['-n', NS, 'delete', 'event', first.metadata.name!]);
  const fresh = await rec.record(target, 'Warning', 'PullTimeout', 'same message');
  assert.notEqual(fresh.metadata.name, first.metadata.name);
  assert.equal(fresh.count, 1);
});

test('after a real 410 Gone on its Event watch (etcd compacted) the controller re-lists and goes on explaining failures', async () => {
  const { api } = cp();
  await api.post('/api/v1/namespaces', { metadata: { name: 'team-410' } });
  const metrics = new ControllerMetrics();
  const ctl = new Controller({
    api: kubeApiFromConfig(loadKubeConfig({ kubeconfig: cp().kubeconfig })),
    diagnose: (image, opts) => runDoctor(image, { ...opts, timeoutMs: 5_000, sampleBytes: 4096 }),
    log: silentLogger(), metrics, namespaces: ['team-410'], identity: 'ctl-410', intervalMs: 10 * 60_000,
    insecureRegistries: [deadHost], leaderElection: false, debounceMs: 100,
    // Short server-side watch timeouts, so a watch resumes (from its last resourceVersion) soon.
    watch: { watchTimeoutSeconds: 2 },
  });
  const relists = async (): Promise<number> => Number(/regway_controller_relists_total\{resource="events",reason="expired"\} (\d+)/.exec(await metrics.registry.metrics())?.[1] ?? 0);
  ctl.start();
  try {
    await until(() => ctl.ready() || undefined, 'the first lists');
    // Writes the Event watch does not match move etcd on; the compaction then passes the watch's resourceVersion.
    for (let i = 0; i < 3; i++) await api.post('/api/v1/namespaces/team-410/configmaps', { metadata: { name: `bump-${i}` } });
    await cp().compact();
    await until(async () => (await relists()) >= 1 || undefined, 'the re-list after 410 Gone', 30_000);
    const p = { name: 'after-gone', namespace: 'team-410', image: `${deadHost}/app:v1` };
    await kubeletPull(api, ctrd, hosts, p);
    const list = async (): Promise<KubeEvent[] | undefined> => some(cp().api.get<ObjectList<KubeEvent>>('/api/v1/namespaces/team-410/events').then((l) => l.items.filter((e) => e.reason === 'PullConnectionRefused')));
    const [ev] = await until(list, 'the Event after the re-list');
    assert.equal(ev!.involvedObject.name, 'after-gone');
  } finally {
    await ctl.stop();
  }
});
