import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconcileState, MAX_EVENT_MESSAGE, type Action, type ReconcileConfig } from './reconcile.js';
import type { DoctorReport } from './doctor-contract.js';
import type { KubeEvent, Pod } from './k8s-types.js';

const MIN = 60_000;
const cfg: ReconcileConfig = { intervalMs: 5 * MIN };

function pod(name: string, image: string, waiting: { reason: string; message?: string }, extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return {
    metadata: { name, namespace: 'team-a', uid: `uid-${name}`, resourceVersion: '1' },
    spec: { nodeName: 'node-1', serviceAccountName: 'builder', containers: [{ name: 'app', image }], ...extra },
    status: { phase: 'Pending', containerStatuses: [{ name: 'app', image, ready: false, restartCount: 0, state: { waiting } }] },
  };
}

const UNAUTH = (img: string) => ({
  reason: 'ErrImagePull',
  message: `Failed to pull image "${img}": rpc error: code = Unknown desc = failed to pull and unpack image "${img}": failed to resolve reference "${img}": pulling from host r.example:5000 failed with status code [manifests v1]: 401 Unauthorized`,
});

function report(worst: DoctorReport['worst'], code = 'AUTH_REQUIRED'): DoctorReport {
  return {
    target: 'r.example:5000/app:v1',
    registry: 'r.example:5000',
    worst,
    durationMs: 12,
    findings:
      worst === 'ok'
        ? [{ code: 'PING_OK', severity: 'ok', stage: 'ping', title: 'registry answers', detail: '' }]
        : [{ code, severity: worst, stage: 'auth', title: 'credentials required', detail: '401 with Basic realm', fix: 'pass --username/--password' }],
  };
}

const kinds = (a: Action[]) => a.map((x) => x.kind);

test('one doctor run per registry however many Pods fail, then every Pod gets its report', () => {
  const s = new ReconcileState();
  for (let i = 0; i < 25; i++) s.observePod(pod(`p${i}`, 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 1000 + i);
  const a1 = s.plan(2000, cfg);
  assert.deepEqual(kinds(a1), ['diagnose'], 'no report before the doctor answered');
  assert.equal(a1[0]!.kind === 'diagnose' && a1[0]!.image, 'r.example:5000/app:v1');
  s.diagnosisStarted('r.example:5000');
  assert.deepEqual(s.plan(2500, cfg), [], 'in flight: nothing to do');
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'r.example:5000/app:v1', at: 3000, direct: report('error') });
  const a2 = s.plan(3001, cfg);
  assert.equal(a2.filter((a) => a.kind === 'report').length, 25);
  assert.equal(a2.filter((a) => a.kind === 'diagnose').length, 0);
  for (const a of a2) if (a.kind === 'report') s.markReported(a.failure.key, a.signature, 3001);
  // A new Pod within the interval: reported with the cached diagnosis, no new doctor run.
  s.observePod(pod('late', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 4000);
  const a3 = s.plan(4000, cfg);
  assert.deepEqual(kinds(a3), ['report']);
  // After the interval: exactly one new doctor run for the registry.
  const a4 = s.plan(3000 + cfg.intervalMs, cfg);
  assert.deepEqual(kinds(a4), ['diagnose']);
});

test('the Event names the cause, the doctor finding and the fix, and stays under the size limit', () => {
  const s = new ReconcileState();
  s.observePod(pod('p', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 0);
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'r.example:5000/app:v1', at: 1, direct: report('error'), viaGateway: report('ok'), gatewayUrl: 'http://regway:5000' });
  const [a] = s.plan(2, { ...cfg, pullSecret: 'regcred' });
  assert.ok(a?.kind === 'report');
  assert.equal(a.reason, 'PullUnauthorized');
  assert.match(a.message, /cause: unauthorized/);
  assert.match(a.message, /Doctor: credentials required \(401 with Basic realm\)/);
  assert.match(a.message, /Through gateway http:\/\/regway:5000: the registry answered correctly/);
  assert.match(a.message, /Fix: create a pull secret .*kubectl -n team-a create secret docker-registry regcred --docker-server=r\.example:5000/);
  assert.match(a.message, /Kubelet: Failed to pull image/);
  const long = new ReconcileState();
  long.observePod(pod('p', 'r.example:5000/app:v1', { reason: 'ErrImagePull', message: `Failed to pull image "r.example:5000/app:v1": 401 Unauthorized ${'x'.repeat(5000)}` }), 0);
  long.recordDiagnosis({ registry: 'r.example:5000', image: 'r.example:5000/app:v1', at: 1, direct: report('error') });
  const [b] = long.plan(2, cfg);
  assert.ok(b?.kind === 'report' && b.message.length <= MAX_EVENT_MESSAGE, `${b?.kind === 'report' ? b.message.length : 0}`);
});

test('a repeat is reported only when the finding changes or the interval passed', () => {
  const s = new ReconcileState();
  s.observePod(pod('p', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 0);
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'x', at: 0, direct: report('error') });
  const [a] = s.plan(1, cfg);
  assert.ok(a?.kind === 'report');
  s.markReported(a.failure.key, a.signature, 1);
  assert.deepEqual(s.plan(2, cfg), []);
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'x', at: 3, direct: report('error', 'AUTH_DENIED') });
  assert.deepEqual(kinds(s.plan(4, cfg)), ['report'], 'new finding code: new report');
});

test('ImagePullBackOff without detail takes the cause from the kubelet Failed event, in either order', () => {
  const img = '127.0.0.1:5000/app:missing';
  const ev: KubeEvent = {
    metadata: { name: 'p.17a', namespace: 'team-a' },
    reason: 'Failed',
    type: 'Warning',
    involvedObject: { kind: 'Pod', namespace: 'team-a', name: 'p', uid: 'uid-p', fieldPath: 'spec.containers{app}' },
    message: `Failed to pull image "${img}": rpc error: code = NotFound desc = failed to pull and unpack image "${img}": failed to resolve reference "${img}": ${img}: not found`,
  };
  const s1 = new ReconcileState();
  s1.observePod(pod('p', img, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${img}"` }), 0);
  assert.equal([...s1.failures.values()][0]!.cause, 'unknown');
  s1.observeEvent(ev);
  assert.equal([...s1.failures.values()][0]!.cause, 'manifest-unknown');
  const s2 = new ReconcileState();
  s2.observeEvent(ev);
  s2.observePod(pod('p', img, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${img}"` }), 0);
  assert.equal([...s2.failures.values()][0]!.cause, 'manifest-unknown');
  // Our own events (other reasons) and unrelated kubelet events are ignored.
  s2.observeEvent({ ...ev, reason: 'PullManifestUnknown', message: 'regway: ...' });
  assert.equal([...s2.failures.values()][0]!.cause, 'manifest-unknown');
});

test('a recovered or deleted Pod is forgotten', () => {
  const s = new ReconcileState();
  const p = pod('p', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1'));
  s.observePod(p, 0);
  assert.equal(s.failures.size, 1);
  s.observePod({ ...p, status: { containerStatuses: [{ name: 'app', image: 'r.example:5000/app:v1', state: { running: {} } }] } }, 1);
  assert.equal(s.failures.size, 0);
  s.observePod(p, 2);
  s.forgetPod(p);
  assert.equal(s.failures.size, 0);
});

test('InvalidImageName is reported at once, without a doctor run', () => {
  const s = new ReconcileState();
  s.observePod(
    pod('p', 'https://r.example/app:1', {
      reason: 'InvalidImageName',
      message: 'Failed to apply default image tag "https://r.example/app:1": couldn\'t parse image reference "https://r.example/app:1": invalid reference format',
    }),
    0,
  );
  const a = s.plan(1, cfg);
  assert.deepEqual(kinds(a), ['report']);
  assert.ok(a[0]!.kind === 'report' && a[0]!.reason === 'PullNameInvalid');
});

test('remediation: only when configured, only for auth failures, only when the Pod lacks the secret, once per ServiceAccount', () => {
  const mk = (name: string, extra = {}) => pod(name, 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1'), extra);
  const s = new ReconcileState();
  s.observePod(mk('a'), 0);
  s.observePod(mk('b'), 0);
  s.observePod(mk('c', { imagePullSecrets: [{ name: 'regcred' }] }), 0);
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'x', at: 0, direct: report('error') });
  assert.equal(s.plan(1, cfg).filter((a) => a.kind === 'attach-pull-secret').length, 0, 'not configured: never');
  const on = { ...cfg, pullSecret: 'regcred' };
  const att = s.plan(1, on).filter((a) => a.kind === 'attach-pull-secret');
  assert.equal(att.length, 1, 'one per ServiceAccount');
  assert.ok(att[0]!.kind === 'attach-pull-secret' && att[0]!.serviceAccount === 'builder' && att[0]!.secret === 'regcred');
  s.markAttached('team-a', 'builder', 1);
  assert.equal(s.plan(2, on).filter((a) => a.kind === 'attach-pull-secret').length, 0);
  const t = new ReconcileState();
  t.observePod(pod('m', 'r.example:5000/app:nope', { reason: 'ErrImagePull', message: 'Failed to pull image "r.example:5000/app:nope": manifest unknown' }), 0);
  t.recordDiagnosis({ registry: 'r.example:5000', image: 'x', at: 0, direct: report('error') });
  assert.equal(t.plan(1, on).filter((a) => a.kind === 'attach-pull-secret').length, 0, 'not an auth failure');
});

test('the gateway is diagnosed only for the registries it serves', () => {
  const s = new ReconcileState();
  s.observePod(pod('a', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 0);
  s.observePod(pod('b', 'ghcr.io/org/app:v1', UNAUTH('ghcr.io/org/app:v1')), 0);
  const a = s.plan(1, { ...cfg, gatewayUrl: 'http://regway:5000', gatewayRegistries: ['ghcr.io'] });
  const byReg = Object.fromEntries(a.filter((x) => x.kind === 'diagnose').map((x) => [x.kind === 'diagnose' ? x.registry : '', x]));
  assert.equal((byReg['ghcr.io'] as { gatewayUrl?: string }).gatewayUrl, 'http://regway:5000');
  assert.equal((byReg['r.example:5000'] as { gatewayUrl?: string }).gatewayUrl, undefined);
});

test('another image of the same registry gets only the registry-level findings', () => {
  const s = new ReconcileState();
  s.observePod(pod('a', 'r.example:5000/app:v1', UNAUTH('r.example:5000/app:v1')), 0);
  s.observePod(pod('b', 'r.example:5000/other:v2', { reason: 'ErrImagePull', message: 'Failed to pull image "r.example:5000/other:v2": manifest unknown' }), 1);
  const direct: DoctorReport = {
    target: 'r.example:5000/app:v1',
    registry: 'r.example:5000',
    worst: 'error',
    durationMs: 1,
    findings: [
      { code: 'TLS_OK', severity: 'ok', stage: 'tls', title: 'TLS', detail: '' },
      { code: 'MANIFEST_UNKNOWN', severity: 'error', stage: 'manifest', title: 'image not found', detail: 'app:v1 404' },
    ],
  };
  s.recordDiagnosis({ registry: 'r.example:5000', image: 'r.example:5000/app:v1', at: 2, direct });
  const msgs = Object.fromEntries(s.plan(3, cfg).flatMap((a) => (a.kind === 'report' ? [[a.failure.pod, a.message]] : [])));
  assert.match(msgs.a!, /Doctor: image not found/);
  assert.match(msgs.b!, /Doctor \(registry checks, run for "r\.example:5000\/app:v1"\): the registry-level checks passed/);
  assert.doesNotMatch(msgs.b!, /image not found/);
});
