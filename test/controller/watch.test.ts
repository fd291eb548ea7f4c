// The list/watch client (Reflector) against a real kube-apiserver + etcd: paged lists, watch from the
// list's resourceVersion, resume after the server ends a stream, real BOOKMARKs, and a real
// `410 Gone` after an etcd compaction forcing a re-list. The requests themselves are read back from
// the API server's audit log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useControlPlane } from '../helpers/kube.js';
import { Reflector } from '../../src/controller/watch.js';
import type { KubeEvent, Pod } from '../../src/controller/k8s-types.js';
import { waitFor } from '../helpers/wait.js';
import { mirror } from './mirror.js';

const cp = useControlPlane();

function pod(name: string): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1' }] } };
}

const until = async (cond: () => boolean, what: string, ms = 30_000): Promise<void> => { await waitFor(cond, what, ms); };


const ns = async (name: string): Promise<void> => { await cp().api.post('/api/v1/namespaces', { metadata: { name } }); };

test('list (paged) then watch from its resourceVersion; a closed stream resumes from a real BOOKMARK without re-listing', async () => {
  const { api } = cp();
  await ns('wa');
  await ns('wb');
  await ns('wother');
  for (let i = 0; i < 5; i++) await api.post(`/api/v1/namespaces/${i % 2 ? 'wa' : 'wb'}/pods`, pod(`p${i}`));
  const m = mirror<Pod>();
  // Timeouts of 2-4 s: the server ends each watch soon, and sends a BOOKMARK shortly before it does.
  const r = new Reflector<Pod>({ api, path: '/api/v1/namespaces/wa/pods', pageSize: 2, watchTimeoutSeconds: 2 }, m.h);
  const all = new Reflector<Pod>({ api, path: '/api/v1/pods', pageSize: 2, watchTimeoutSeconds: 60 }, mirror<Pod>().h);
  const stop = new AbortController();
  const runs = [r.run(stop.signal), all.run(stop.signal)];
  try {
    await until(() => r.watches === 1 && all.watches === 1, 'the watches');
    assert.deepEqual(m.log, ['replace:2']);
    const listRv = r.resourceVersion;
    const audit = cp().audit().filter((e) => e.user.username === 'admin' && e.objectRef?.resource === 'pods');
    const lists = audit.filter((e) => e.verb === 'list' && e.requestURI.startsWith('/api/v1/pods?'));
    assert.equal(lists.length, 3, `five pods in pages of two: ${lists.map((e) => e.requestURI).join(' ')}`);
    assert.match(lists[1]!.requestURI, /continue=/);
    const watch = audit.find((e) => e.verb === 'watch' && e.requestURI.startsWith('/api/v1/namespaces/wa/pods?'))!;
    assert.match(watch.requestURI, new RegExp(`resourceVersion=${listRv}(&|$)`), 'the watch starts at the list snapshot');
    assert.match(watch.requestURI, /allowWatchBookmarks=true/);
    // Changes arrive as watch events.
    await api.patch('/api/v1/namespaces/wa/pods/p1', { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    await api.post('/api/v1/namespaces/wa/pods', pod('p9'));
    // Deleting a Pod is two events on a real server: MODIFIED (deletionTimestamp set), then DELETED
    // (at once for an unscheduled Pod; a bound one waits for its kubelet to confirm).
    await cp().kubectlOk(['-n', 'wa', 'delete', 'pod', 'p3', '--wait=false']);
    await until(() => m.log.includes('deleted:p3'), 'the deletion');
    assert.deepEqual(m.log.slice(1), ['modified:p1', 'added:p9', 'modified:p3', 'deleted:p3']);
    assert.deepEqual([...m.objs.keys()].sort(), ['p1', 'p9']);
    // A pod outside this watch moves the server's resourceVersion; the bookmark before the stream
    // ends carries it, and the next watch resumes from there: no second list.
    await api.post('/api/v1/namespaces/wother/pods', pod('elsewhere'));
    const rvAfter = (await api.get<{ metadata: { resourceVersion: string } }>('/api/v1/namespaces/wother/pods/elsewhere')).metadata.resourceVersion;
    // Generous: under load (a full suite with other work on 2 cores) the server may end many 2 s watches before one carries a bookmark.
    await until(() => BigInt(r.resourceVersion) >= BigInt(rvAfter), 'a BOOKMARK carrying the newer resourceVersion', 120_000);
    const n = r.watches;
    await until(() => r.watches > n, 'the next watch');
    assert.equal(r.lists, 1, 'resumed without re-listing');
    const resumed = cp().audit().filter((e) => e.verb === 'watch' && e.requestURI.startsWith('/api/v1/namespaces/wa/pods?')).map((e) => /resourceVersion=(\d+)/.exec(e.requestURI)?.[1]);
    assert.ok(resumed.some((rv) => rv && BigInt(rv) >= BigInt(rvAfter)), `a watch resumed from the bookmark's resourceVersion: ${resumed.join(',')}`);
  } finally {
    stop.abort();
    await Promise.all(runs);
  }
});

test('a real 410 Gone: after an etcd compaction, a watch resuming from a compacted resourceVersion re-lists', async () => {
  const { api } = cp();
  await ns('wgone');
  const target = { kind: 'Pod', namespace: 'wgone', name: 'x', uid: '5f0c6f6e-0000-4000-8000-000000000001', apiVersion: 'v1' };
  const event = (name: string, reason: string): KubeEvent => ({ metadata: { name, namespace: 'wgone' }, involvedObject: target, reason, message: `m ${name}`, type: 'Warning', source: { component: 'test' } });
  await api.post('/api/v1/namespaces/wgone/events', event('e1', 'Failed'));
  const m = mirror<KubeEvent>();
  const relists: string[] = [];
  // The controller's own events watch: Events have no watch cache in kube-apiserver (its default
  // --watch-cache-sizes turns it off for them), so this watch reads etcd directly.
  const r = new Reflector<KubeEvent>({ api, path: '/api/v1/namespaces/wgone/events', fieldSelector: 'reason=Failed', watchTimeoutSeconds: 2, onRelist: (why) => relists.push(why) }, m.h);
  const stop = new AbortController();
  const run = r.run(stop.signal);
  try {
    await until(() => r.watches === 1, 'the watch');
    const seen = r.resourceVersion;
    // Changes the watch does not match move etcd on; then etcd compacts past what the reflector saw.
    for (let i = 0; i < 3; i++) await api.post('/api/v1/namespaces/wgone/events', event(`other-${i}`, 'Scheduled'));
    await api.post('/api/v1/namespaces/wgone/configmaps', { metadata: { name: 'bump' } });
    const rev = await cp().compact();
    assert.ok(BigInt(rev) > BigInt(seen));
    // The stream ends at its timeout; the next watch from `seen` gets the ERROR event with 410.
    await until(() => relists.includes('expired'), 'the 410 and re-list', 20_000);
    await until(() => r.lists === 2, 'the second list');
    assert.deepEqual(relists.slice(0, 2), ['start', 'expired']);
    const gone = cp().audit().filter((e) => e.verb === 'watch' && e.requestURI.startsWith('/api/v1/namespaces/wgone/events?') && e.requestURI.includes(`resourceVersion=${seen}&`));
    assert.ok(gone.length >= 1, 'a watch resumed from the compacted resourceVersion');
    // After the re-list the view is whole and the watch goes on from the new snapshot.
    await api.post('/api/v1/namespaces/wgone/events', event('e2', 'Failed'));
    await until(() => m.objs.has('e2'), 'the next event');
    assert.deepEqual([...m.objs.keys()].sort(), ['e1', 'e2']);
  } finally {
    stop.abort();
    await run;
  }
});

test('the watch cache hides compaction: a Pod watch resuming from a compacted resourceVersion gets no 410', async () => {
  const { api } = cp();
  await ns('wcache');
  await api.post('/api/v1/namespaces/wcache/pods', pod('a'));
  const relists: string[] = [];
  const m = mirror<Pod>();
  const r = new Reflector<Pod>({ api, path: '/api/v1/namespaces/wcache/pods', watchTimeoutSeconds: 2, onRelist: (why) => relists.push(why) }, m.h);
  const stop = new AbortController();
  const run = r.run(stop.signal);
  try {
    await until(() => r.watches === 1, 'the watch');
    await api.post('/api/v1/namespaces/wcache/configmaps', { metadata: { name: 'bump' } });
    const rev = await cp().compact();
    const n = r.watches;
    await until(() => r.watches > n, 'a watch resumed after the compaction', 20_000);
    await api.post('/api/v1/namespaces/wcache/pods', pod('b'));
    await until(() => m.objs.has('b'), 'the new pod');
    assert.deepEqual(relists, ['start'], 'served from the watch cache, which keeps its own window of history');
    const resumed = cp().audit().filter((e) => e.verb === 'watch' && e.requestURI.startsWith('/api/v1/namespaces/wcache/pods?')).map((e) => BigInt(/resourceVersion=(\d+)/.exec(e.requestURI)![1]!));
    assert.ok(resumed.slice(1).some((rv) => rv < BigInt(rev)), `a watch resumed from before the compaction (${rev}): ${resumed.join(',')}`);
  } finally {
    stop.abort();
    await run;
  }
});
