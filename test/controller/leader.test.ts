// Lease-based leader election, in-process electors on a real coordination.k8s.io/v1 Lease in a real
// kube-apiserver: one leader at a time, a graceful release hands over at once, a crashed leader is
// replaced after the lease expires, racing writers get one success and one real 409 Conflict.
// (Two `regway controller` processes and a SIGKILLed leader: rbac.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useControlPlane } from '../helpers/kube.js';
import { isKubeStatus, type KubeApi } from '../../src/controller/kube-client.js';
import { LeaderElector } from '../../src/controller/leader.js';
import type { Lease } from '../../src/controller/k8s-types.js';
import { waitFor } from '../helpers/wait.js';

const cp = useControlPlane({ setup: async (c) => { await c.api.post('/api/v1/namespaces', { metadata: { name: 'regway-system' } }); } });
const getLease = (): Promise<Lease> => cp().api.get<Lease>('/apis/coordination.k8s.io/v1/namespaces/regway-system/leases/regway-controller');

const T = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 150 };

/** waitFor, returning how long the wait took (ms). */
async function until(cond: () => boolean, what: string, ms = 15_000): Promise<number> {
  const start = Date.now();
  await waitFor(cond, what, ms);
  return Date.now() - start;
}

interface Candidate { el: LeaderElector; stop: AbortController; run: Promise<void>; leading: boolean; overlaps: number }

function candidate(api: KubeApi, identity: string, all: Candidate[]): Candidate {
  const stop = new AbortController();
  const c = { stop, leading: false, overlaps: 0 } as Candidate;
  c.el = new LeaderElector({
    api, namespace: 'regway-system', name: 'regway-controller', identity, ...T,
    onStartedLeading: () => { if (all.some((o) => o !== c && o.leading)) c.overlaps++; c.leading = true; },
    onStoppedLeading: () => { c.leading = false; },
  });
  c.run = c.el.run(stop.signal);
  all.push(c);
  return c;
}

/** A KubeApi that can be "killed": every call then fails like a partitioned or dead process. */
function killable(api: KubeApi): { api: KubeApi; kill(): void } {
  let dead = false;
  const guard = <T>(f: () => Promise<T>): Promise<T> => (dead ? Promise.reject(new Error('process is dead')) : f());
  return {
    kill: () => { dead = true; },
    api: { get: (p) => guard(() => api.get(p)), post: (p, b) => guard(() => api.post(p, b)), put: (p, b) => guard(() => api.put(p, b)), patch: (p, b, t) => guard(() => api.patch(p, b, t)), watch: (p, q, s) => guard(() => api.watch(p, q, s)) },
  };
}

test('two replicas: one leader; graceful release hands over at once; a dead leader is replaced after the lease', async () => {
  const all: Candidate[] = [];
  const { api } = cp();
  try {
    const a = candidate(api, 'replica-a', all);
    await until(() => a.leading, 'replica-a to lead');
    const b = candidate(api, 'replica-b', all);
    // b keeps campaigning for several lease renewals but never leads while a renews.
    // the time is the subject: b must not lead during two lease durations while a renews
    await new Promise((r) => setTimeout(r, T.leaseDurationMs * 2));
    assert.equal(b.leading, false);
    let lease = await getLease();
    assert.equal(lease.spec!.holderIdentity, 'replica-a');
    assert.equal(lease.spec!.leaseDurationSeconds, 2);
    // The server stores what we sent: MicroTime with microseconds (it rejects other formats with 400).
    assert.match(lease.spec!.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime');
    assert.equal(lease.spec!.leaseTransitions, 0);
    const updates = cp().audit().filter((e) => e.verb === 'update' && e.objectRef?.resource === 'leases' && e.objectRef.name === 'regway-controller');
    assert.ok(updates.filter((e) => e.responseStatus?.code === 200).length >= 3, 'renewals happened');
    // Graceful shutdown of a: it releases, b takes over well before the lease would have expired.
    a.stop.abort();
    await a.run;
    assert.notEqual((await getLease()).spec!.holderIdentity, 'replica-a');
    const handover = await until(() => b.leading, 'replica-b to take over');
    assert.ok(handover < T.leaseDurationMs, `handover after release took ${handover} ms`);
    lease = await getLease();
    assert.equal(lease.spec!.holderIdentity, 'replica-b');
    assert.equal(lease.spec!.leaseTransitions, 1);
    // A third replica joins; then b dies without releasing: c takes over only after the lease ran out.
    const k = killable(api);
    const c = candidate(k.api, 'replica-c', all);
    await new Promise((r) => setTimeout(r, 300)); // the time is the subject: c campaigns (two retry periods) and must not lead
    assert.equal(c.leading, false);
    b.stop.abort();
    await b.run;
    await until(() => c.leading, 'replica-c after b released');
    k.kill(); // c now "crashes": it can neither renew nor release
    const d = candidate(api, 'replica-d', all);
    const t0 = Date.now();
    await until(() => d.leading, 'replica-d after c crashed');
    const waited = Date.now() - t0;
    assert.ok(waited >= T.leaseDurationMs * 0.9, `d waited ${waited} ms: at least the lease duration`);
    await until(() => !c.leading, 'c to notice it lost the lease (renew deadline)');
    assert.equal(all.reduce((n, x) => n + x.overlaps, 0), 0, 'never two leaders at once (as each saw it)');
  } finally {
    for (const c of all) c.stop.abort();
    await Promise.all(all.map((c) => c.run));
  }
});

test('racing writers on the Lease: the one with a stale resourceVersion gets a real 409 Conflict', async () => {
  const { api } = cp();
  const path = '/apis/coordination.k8s.io/v1/namespaces/regway-system/leases/race';
  await api.post('/apis/coordination.k8s.io/v1/namespaces/regway-system/leases', { metadata: { name: 'race' }, spec: { holderIdentity: '' } });
  const seen = await api.get<Lease>(path);
  await api.put(path, { ...seen, spec: { holderIdentity: 'first' } });
  await assert.rejects(api.put(path, { ...seen, spec: { holderIdentity: 'second' } }), (e) => isKubeStatus(409, e));
  assert.equal((await api.get<Lease>(path)).spec!.holderIdentity, 'first');
  // Two electors campaigning for a free Lease at the same instant: exactly one takes it.
  const mk = (identity: string): LeaderElector => new LeaderElector({ api, namespace: 'regway-system', name: 'race', identity, ...T, onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
  await api.put(path, { ...(await api.get<Lease>(path)), spec: { holderIdentity: '' } });
  const [x, y] = await Promise.all([mk('x').tryAcquireOrRenew(), mk('y').tryAcquireOrRenew()]);
  assert.equal(Number(x) + Number(y), 1, `exactly one winner (x=${x}, y=${y})`);
});
