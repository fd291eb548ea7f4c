// End to end: real registries started here, real pulls by a real containerd playing the kubelet, the
// real doctor, and the controller (with leader election) watching the in-test API server. Each
// scenario must end with an Event on the Pod that names the cause and the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { FakeApiServer } from './fake-apiserver.js';
import { kubeletPull, backOff, type SimPod } from './kubelet.js';
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
import { runDoctor } from '../../src/diagnose/index.js';
import type { DoctorOptions } from '../../src/controller/doctor-contract.js';
import type { KubeEvent, ServiceAccount } from '../../src/controller/k8s-types.js';
import { silentLogger } from '../../src/obs/logger.js';

const NS = 'team-a';
let dir: string;
let api: FakeApiServer;
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
  api = await new FakeApiServer({ dir, bookmarkIntervalMs: 500 }).start();
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
  api.upsert('nodes', { metadata: { name: 'node-1' }, status: { nodeInfo: { operatingSystem: 'linux', architecture: 'amd64' } } } as never);
  api.upsert('serviceaccounts', { metadata: { name: 'default', namespace: NS } });
});

after(async () => {
  await Promise.allSettled([ctrd?.stop(), authReg?.stop(), missingReg?.stop(), platformReg?.stop(), tlsReg?.stop(), gw?.stop()]);
  await api?.stop();
  if (dir) removeTempDir(dir);
});

async function until<T>(f: () => T | undefined, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ours = (pod: string, reason?: string): KubeEvent[] =>
  (api.list('events') as unknown as KubeEvent[]).filter((e) => e.source?.component === 'regway-controller' && e.involvedObject.name === pod && (!reason || e.reason === reason));

test('every real pull failure ends as an Event on its Pod naming the cause and the fix', async () => {
  const calls: Array<{ image: string; opts: DoctorOptions }> = [];
  const metrics = new ControllerMetrics();
  const ctl = new Controller({
    api: kubeApiFromConfig(loadKubeConfig({ kubeconfig: api.writeKubeconfig() })),
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
    const kubelet: Record<string, string> = {};
    for (const s of scenarios) kubelet[s.pod.name] = await kubeletPull(api, ctrd, hosts, s.pod);
    for (const p of extra) await kubeletPull(api, ctrd, hosts, p);
    for (const p of [...extra, scenarios[1]!.pod]) backOff(api, p);
    assert.match(kubelet.platform!, /no match for platform in manifest/, 'containerd itself refused the platform');
    assert.match(kubelet.tls!, /x509|certificate/, 'containerd itself failed TLS');
    for (const s of scenarios) {
      const [ev] = await until(() => { const e = ours(s.pod.name, s.reason); return e.length ? e : undefined; }, `the ${s.reason} Event on ${s.pod.name}`);
      assert.equal(ev!.type, 'Warning');
      assert.equal(ev!.involvedObject.kind, 'Pod');
      assert.equal(ev!.involvedObject.uid, (api.get('pods', NS, s.pod.name) as { metadata: { uid: string } }).metadata.uid);
      assert.equal(ev!.involvedObject.fieldPath, 'spec.containers{app}');
      assert.match(ev!.message!, new RegExp(`cause: ${s.cause}`), ev!.message);
      assert.match(ev!.message!, s.doctor, ev!.message);
      assert.match(ev!.message!, s.fix, ev!.message);
      assert.ok(ev!.message!.length <= 1024);
    }
    for (const p of extra) await until(() => ours(p.name, 'PullManifestUnknown')[0], `the Event on ${p.name}`);
    if (process.env.SHOW_EVENTS) for (const e of api.list("events") as unknown as KubeEvent[]) if (e.source?.component === "regway-controller") console.log(`${e.involvedObject.name} ${e.reason} x${e.count}: ${e.message}\n`);
    // One doctor run per registry (plus one through the gateway for the registry it serves).
    const per = new Map<string, number>();
    for (const c of calls) { const k = `${c.image.split('/')[0]}${c.opts.via ? ' via' : ''}`; per.set(k, (per.get(k) ?? 0) + 1); }
    for (const r of [authReg.host, missingReg.host, platformReg.host, tlsReg.host, deadHost]) assert.equal(per.get(r), 1, `doctor runs for ${r}`);
    assert.equal(per.get(`${missingReg.host} via`), 1);
    assert.equal(calls.find((c) => c.image.startsWith(platformReg.host))!.opts.platform, 'linux/amd64', "the node's platform");
    const missingEv = ours('missing-2', 'PullManifestUnknown')[0]!;
    assert.match(missingEv.message!, new RegExp(`Through gateway ${gw.url.replace(/[.]/g, '\\.')}: image not found`), missingEv.message);
    // Remediation: the ServiceAccount got the secret, and the Pod was told only new Pods pick it up.
    const sa = api.get('serviceaccounts', NS, 'default') as unknown as ServiceAccount;
    assert.deepEqual(sa.imagePullSecrets, [{ name: 'regcred' }]);
    const patch = api.requests.find((q) => q.method === 'PATCH' && q.path.endsWith('/serviceaccounts/default'))!;
    assert.equal(patch.contentType, 'application/merge-patch+json');
    const attached = await until(() => ours('auth', 'PullSecretAttached')[0], 'the PullSecretAttached Event');
    assert.equal(attached.type, 'Normal');
    assert.match(attached.message!, /Only Pods created from now on pick it up/);
    // Nothing was rewritten: no Pod was written by the controller.
    assert.equal(api.requests.filter((q) => q.path.includes('/pods') && q.method !== 'GET').length, 0);
    // Metrics.
    const text = await metrics.registry.metrics();
    assert.match(text, /regway_controller_findings_total\{cause="manifest-unknown"\} 5/);
    assert.match(text, /regway_controller_findings_total\{cause="unauthorized"\} 1/);
    assert.match(text, /regway_controller_doctor_runs_total\{registry="127\.0\.0\.1:\d+",result="error"\} \d/);
    assert.match(text, /regway_controller_leader 1/);
    assert.match(text, /regway_controller_failing_containers\{cause="manifest-unknown"\} 5/);
    // A Pod that recovers is forgotten.
    api.remove('pods', NS, 'dead');
    await until(() => ![...ctl.state.failures.values()].some((f) => f.pod === 'dead') || undefined, 'the deleted Pod to be forgotten');
  } finally {
    await ctl.stop();
  }
  // Graceful stop released the Lease.
  assert.equal((api.get('leases', 'regway-system', 'regway-controller') as unknown as { spec: { holderIdentity: string } }).spec.holderIdentity, '');
});

test('Event recorder aggregates repeats like the kubelet (count, lastTimestamp) and recreates expired Events', async () => {
  const kapi = kubeApiFromConfig(loadKubeConfig({ kubeconfig: api.writeKubeconfig() }));
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
  assert.ok(api.requests.filter((q) => q.method === 'PATCH' && q.path.includes('/events/')).every((q) => q.contentType === 'application/strategic-merge-patch+json'));
  // A different message is a different Event.
  const other = await rec.record(target, 'Warning', 'PullTimeout', 'another message');
  assert.notEqual(other.metadata.name, first.metadata.name);
  // The Event expired (TTL): the next repeat creates a fresh one with count 1.
  api.remove('events', NS, first.metadata.name!);
  const fresh = await rec.record(target, 'Warning', 'PullTimeout', 'same message');
  assert.notEqual(fresh.metadata.name, first.metadata.name);
  assert.equal(fresh.count, 1);
});
