// `regway controller` as real processes against a real kube-apiserver, authenticated as the
// ServiceAccount that deploy/kustomize/base creates and binds (a token from the TokenRequest API),
// so the RBAC shipped in deploy/ is what is tested:
// - two replicas on one Lease: one leads and writes Events on a failing Pod (the kubelet played through
//   pods/status); SIGKILL of the leader hands over once the lease ran out; SIGTERM releases it;
// - least privilege: every request the controller made (read back from the API server's audit log)
//   succeeded, it used every permission it is granted, and `kubectl auth can-i --as` denies the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useControlPlane } from '../helpers/kube.js';
import { freePort } from '../helpers/ports.js';
import { withParentDeathSignal } from '../helpers/proc.js';
import { createPod, kubeletEvent, setWaiting, type SimPod } from './kubelet.js';
import type { KubeEvent, Lease, ObjectList } from '../../src/controller/k8s-types.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SA = 'system:serviceaccount:regway-system:regway-controller';
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/regway-system/leases/regway-controller';
let saKubeconfig = '';

const cp = useControlPlane({
  setup: async (c) => {
    // The real manifests, applied for real: Namespace, ServiceAccount, ClusterRole(Binding), Role(Binding)...
    await c.kubectlOk(['apply', '-k', `${ROOT}deploy/kustomize/base`]);
    await c.api.post('/api/v1/namespaces', { metadata: { name: 'team-b' } });
    await c.api.post('/api/v1/nodes', { metadata: { name: 'node-1' } });
    await c.api.patch('/api/v1/nodes/node-1/status', { status: { nodeInfo: { operatingSystem: 'linux', architecture: 'amd64' } } }, 'application/strategic-merge-patch+json');
    saKubeconfig = await c.serviceAccountKubeconfig('regway-system', 'regway-controller');
  },
});

interface Replica { id: string; child: ChildProcess; out: () => string; exited: Promise<number | null>; metricsPort: () => Promise<number> }

const until = <T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 60_000): Promise<T> => waitFor(f, what, ms) as Promise<T>;

function startReplica(id: string, deadRegistry: string): Replica {
  // setpriv --pdeathsig (when present): the replicas die with this process, even if it is SIGKILLed.
  const [cmd, args] = withParentDeathSignal(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--kubeconfig', saKubeconfig,
    '-n', 'team-b', '--lease-namespace', 'regway-system', '--identity', id, '--metrics-listen', '127.0.0.1:0', '--interval', '3s',
    '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms', '--insecure-registry', deadRegistry, '--doctor-timeout', '2s']);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    id, child, out: () => out, exited,
    metricsPort: () => until(() => { const m = /"metrics":"[^"]*:(\d+)"/.exec(out)?.[1]; return m ? Number(m) : undefined; }, `${id}'s start log line`),
  };
}

const lease = (): Promise<Lease> => cp().api.get<Lease>(LEASE);
const metric = async (r: Replica, name: string): Promise<string> => {
  const text = await (await fetch(`http://127.0.0.1:${await r.metricsPort()}/metrics`)).text();
  return new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? '';
};

/** A Pod whose pull fails like containerd's against a closed port, written as the kubelet writes it. */
async function failingPod(name: string, registry: string): Promise<string> {
  const p: SimPod = { name, namespace: 'team-b', image: `${registry}/app:v1` };
  const uid = (await createPod(cp().api, p)).metadata.uid!;
  const err = `rpc error: code = Unknown desc = failed to pull and unpack image "${p.image}": failed to resolve reference "${p.image}": failed to do request: Head "http://${registry}/v2/app/manifests/v1": dial tcp ${registry}: connect: connection refused`;
  await setWaiting(cp().api, p, { reason: 'ErrImagePull', message: err });
  await kubeletEvent(cp().api, p, uid, 'Failed', 'Warning', `Failed to pull image "${p.image}": ${err}`);
  return uid;
}

async function regwayEvents(pod: string): Promise<KubeEvent[]> {
  const list = await cp().api.get<ObjectList<KubeEvent>>(`/api/v1/namespaces/team-b/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${pod},source=regway-controller`)}`);
  return list.items;
}

test('two controller replicas with the ServiceAccount token: one leads and writes Events; SIGKILL hands over after the lease; SIGTERM releases', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const replicas = [startReplica('ctl-a', dead), startReplica('ctl-b', dead)];
  try {
    const holder = await until(async () => { try { return (await lease()).spec?.holderIdentity || undefined; } catch { return undefined; } }, 'a leader');
    const leader = replicas.find((r) => r.id === holder)!;
    const standby = replicas.find((r) => r.id !== holder)!;
    assert.equal(await metric(leader, 'regway_controller_leader'), '1');
    assert.equal(await metric(standby, 'regway_controller_leader'), '0');
    assert.equal((await fetch(`http://127.0.0.1:${await standby.metricsPort()}/readyz`)).status, 200, 'a standby is ready');
    // The leader explains a failing Pod, and aggregates the repeat (events patch) one interval later.
    const uid = await failingPod('web-1', dead);
    const [ev] = await until(async () => { const e = (await regwayEvents('web-1')).filter((x) => (x.count ?? 0) >= 2); return e.length ? e : undefined; }, 'the repeated PullConnectionRefused Event');
    assert.equal(ev!.reason, 'PullConnectionRefused');
    assert.equal(ev!.involvedObject.uid, uid);
    assert.equal(ev!.reportingInstance, leader.id, 'written by the leader');
    // SIGKILL: no release. The standby takes over only once the lease ran out since the last renewal.
    const before = await lease();
    leader.child.kill('SIGKILL');
    await leader.exited;
    const after = await until(async () => { const l = await lease(); return l.spec?.holderIdentity === standby.id ? l : undefined; }, 'the standby to take over');
    const gapMs = Date.parse(after.spec!.acquireTime!) - Date.parse(before.spec!.renewTime!);
    assert.ok(gapMs >= 3000 - 500, `took over ${gapMs} ms after the last renewal it saw: not before the 3 s lease ran out (minus one retry period of observation lag)`);
    assert.ok(gapMs < 3 * 3000, `took over ${gapMs} ms after the last renewal: within the lease time plus retries`);
    assert.equal(after.spec!.leaseTransitions, (before.spec!.leaseTransitions ?? 0) + 1);
    await until(async () => (await metric(standby, 'regway_controller_leader')) === '1' || undefined, 'the new leader gauge');
    // The new leader acts.
    await failingPod('web-2', dead);
    const [ev2] = await until(async () => { const e = await regwayEvents('web-2'); return e.length ? e : undefined; }, 'an Event from the new leader');
    assert.equal(ev2!.reportingInstance, standby.id);
    // SIGTERM: graceful, the Lease is released for the next replica.
    standby.child.kill('SIGTERM');
    assert.equal(await standby.exited, 0, standby.out());
    assert.equal((await lease()).spec!.holderIdentity, '');
    // Least privilege, from the audit log: everything the controller asked for was allowed (the Lease's
    // first GET is a 404 before it exists, racing replicas get 409), and it used every permission.
    const mine = cp().audit().filter((e) => e.user.username === SA);
    const failed = mine.filter((e) => (e.responseStatus?.code ?? 0) >= 400 && !(e.objectRef?.resource === 'leases' && [404, 409].includes(e.responseStatus!.code!)));
    assert.deepEqual(failed.map((e) => `${e.verb} ${e.requestURI} ${e.responseStatus?.code}`), []);
    const watches = mine.filter((e) => e.verb === 'watch').map((e) => new URL(e.requestURI, 'https://x'));
    assert.deepEqual([...new Set(watches.map((w) => w.pathname))].sort(), ['/api/v1/namespaces/team-b/events', '/api/v1/namespaces/team-b/pods'], '-n team-b: only that namespace is watched');
    assert.ok(watches.filter((w) => w.pathname.endsWith('/events')).every((w) => w.searchParams.get('fieldSelector') === 'involvedObject.kind=Pod,reason=Failed'));
    const used = [...new Set(mine.map((e) => `${e.objectRef?.resource}:${e.verb}`))].sort();
    assert.deepEqual(used, ['events:create', 'events:list', 'events:patch', 'events:watch', 'leases:create', 'leases:get', 'leases:update', 'nodes:get', 'pods:list', 'pods:watch']);
  } finally {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }
});

const canI = async (args: string[]): Promise<string> => (await cp().kubectl(['auth', 'can-i', ...args, `--as=${SA}`])).stdout.trim();

test('kubectl auth can-i as the controller: what it needs is allowed, everything else denied; the remediation overlay adds only serviceaccounts get/patch', async () => {
  const allowed = [['list', 'pods', '-A'], ['watch', 'pods', '-A'], ['list', 'events', '-A'], ['watch', 'events', '-A'], ['create', 'events', '-n', 'team-b'], ['patch', 'events', '-n', 'team-b'],
    ['get', 'nodes/node-1'], ['create', 'leases', '-n', 'regway-system'], ['get', 'leases/regway-controller', '-n', 'regway-system'], ['update', 'leases/regway-controller', '-n', 'regway-system']];
  const denied = [['create', 'pods', '-n', 'team-b'], ['delete', 'pods', '-n', 'team-b'], ['patch', 'pods', '-n', 'team-b'], ['update', 'pods/status', '-n', 'team-b'], ['get', 'pods', '-n', 'team-b'],
    ['get', 'secrets', '-n', 'team-b'], ['list', 'secrets', '-A'], ['get', 'serviceaccounts', '-n', 'team-b'], ['patch', 'serviceaccounts', '-n', 'team-b'], ['delete', 'events', '-n', 'team-b'],
    ['list', 'nodes'], ['update', 'nodes/node-1'], ['update', 'leases/other', '-n', 'regway-system'], ['delete', 'leases/regway-controller', '-n', 'regway-system'], ['get', 'leases/regway-controller', '-n', 'team-b'],
    ['create', 'leases', '-n', 'team-b'], ['create', 'serviceaccounts/token', '-n', 'regway-system'], ['list', 'configmaps', '-A']];
  const answers = await Promise.all([...allowed, ...denied].map(canI));
  assert.deepEqual(answers.map((a, i) => `${[...allowed, ...denied][i]!.join(' ')}: ${a}`), [...allowed.map((a) => `${a.join(' ')}: yes`), ...denied.map((a) => `${a.join(' ')}: no`)]);
  // The remediation overlay (--pull-secret) is the only one that touches ServiceAccounts.
  await cp().kubectlOk(['apply', '-k', `${ROOT}deploy/kustomize/overlays/remediation`]);
  for (const a of [['get', 'serviceaccounts', '-n', 'team-b'], ['patch', 'serviceaccounts', '-n', 'team-b']]) assert.equal(await canI(a), 'yes', `can-i ${a.join(' ')}`);
  for (const a of [['create', 'serviceaccounts', '-n', 'team-b'], ['update', 'serviceaccounts', '-n', 'team-b'], ['get', 'secrets', '-n', 'team-b'], ['create', 'pods', '-n', 'team-b']]) assert.equal(await canI(a), 'no', `can-i ${a.join(' ')}`);
});
