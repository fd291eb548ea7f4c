// The list/watch client against the in-test API server: paging, resume from resourceVersion,
// bookmarks, 410 Gone -> re-list, backoff on API errors, bearer-token auth from a real kubeconfig.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { kubeApiFromConfig, loadKubeConfig, KubeApiError } from '../../src/controller/kube-client.js';
import { Reflector, backoffDelay } from '../../src/controller/watch.js';
import type { Pod } from '../../src/controller/k8s-types.js';

const dir = mkdtempSync(join(tmpdir(), 'regway-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pod(name: string, ns = 'default', phase = 'Pending'): Pod {
  return { metadata: { name, namespace: ns }, spec: { containers: [{ name: 'app', image: 'x:1' }] }, status: { phase } };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function mirror(): { objs: Map<string, Pod>; log: string[]; h: ConstructorParameters<typeof Reflector<Pod>>[1] } {
  const objs = new Map<string, Pod>();
  const log: string[] = [];
  return {
    objs, log,
    h: {
      replace: (items) => { objs.clear(); for (const p of items) objs.set(p.metadata.name!, p); log.push(`replace:${items.length}`); },
      added: (p) => { objs.set(p.metadata.name!, p); log.push(`added:${p.metadata.name}`); },
      modified: (p) => { objs.set(p.metadata.name!, p); log.push(`modified:${p.metadata.name}`); },
      deleted: (p) => { objs.delete(p.metadata.name!); log.push(`deleted:${p.metadata.name}`); },
    },
  };
}

test('list (paged) then watch from its resourceVersion; bookmarks advance it; a closed stream resumes without re-listing', async () => {
  const s = await new FakeApiServer({ dir, token: 'tok-123' }).start();
  try {
    for (let i = 0; i < 5; i++) s.upsert('pods', pod(`p${i}`, i % 2 ? 'a' : 'b'));
    const api = kubeApiFromConfig(loadKubeConfig({ kubeconfig: s.writeKubeconfig() }));
    const m = mirror();
    const r = new Reflector<Pod>({ api, path: '/api/v1/pods', pageSize: 2, watchTimeoutSeconds: 60 }, m.h);
    const stop = new AbortController();
    const run = r.run(stop.signal);
    await until(() => s.openWatches === 1, 'the watch');
    assert.deepEqual(m.log, ['replace:5']);
    const lists = s.requests.filter((q) => q.method === 'GET' && !q.query.watch);
    assert.equal(lists.length, 3, 'five pods in pages of two');
    assert.equal(lists[1]!.query.continue !== undefined, true);
    const w = s.requests.find((q) => q.query.watch)!;
    assert.equal(w.query.resourceVersion, '105', 'watch starts at the list snapshot');
    assert.equal(w.query.allowWatchBookmarks, 'true');
    s.upsert('pods', pod('p1', 'a', 'Running'));
    s.upsert('pods', pod('p9', 'a'));
    s.remove('pods', 'b', 'p0');
    await until(() => m.log.length === 4, 'three watch events');
    assert.deepEqual(m.log.slice(1), ['modified:p1', 'added:p9', 'deleted:p0']);
    assert.equal(m.objs.get('p1')!.status!.phase, 'Running');
    // A bookmark moves the resourceVersion without an object change.
    s.upsert('serviceaccounts', { metadata: { name: 'unrelated', namespace: 'a' } });
    s.bookmark();
    await until(() => r.resourceVersion === String(s.rv), 'the bookmark');
    // The server ends the stream (its timeout): the next watch resumes from the bookmark, no re-list.
    s.closeWatches();
    await until(() => s.requests.filter((q) => q.query.watch).length === 2 && s.openWatches === 1, 'the second watch');
    assert.equal(s.requests.filter((q) => q.query.watch)[1]!.query.resourceVersion, String(s.rv));
    assert.equal(r.lists, 1);
    stop.abort();
    await run;
    assert.equal(s.requests.every((q) => q.status !== 401), true, 'every request carried the kubeconfig token');
  } finally {
    await s.stop();
  }
});

test('410 Gone as a watch ERROR event forces a re-list that sees what the gap hid', async () => {
  const s = await new FakeApiServer({ dir }).start();
  try {
    s.upsert('pods', pod('a'));
    const api = kubeApiFromConfig(loadKubeConfig({ kubeconfig: s.writeKubeconfig() }));
    const m = mirror();
    const relists: string[] = [];
    const r = new Reflector<Pod>({ api, path: '/api/v1/namespaces/default/pods', onRelist: (why) => relists.push(why) }, m.h);
    const stop = new AbortController();
    const run = r.run(stop.signal);
    await until(() => s.openWatches === 1, 'the watch');
    // While we are disconnected, things change and history is compacted past our resourceVersion.
    s.closeWatches();
    s.server.closeAllConnections();
    s.upsert('pods', pod('b'));
    s.remove('pods', 'default', 'a');
    s.compact();
    await until(() => r.lists === 2, 'the re-list');
    await until(() => s.openWatches === 1, 'the new watch');
    assert.deepEqual(relists, ['start', 'expired']);
    assert.deepEqual([...m.objs.keys()], ['b'], 'the re-list replaced the stale view');
    const errLine = s.requests.filter((q) => q.query.watch).find((q) => Number(q.query.resourceVersion) < s.compactedRv);
    assert.ok(errLine, 'a watch from a compacted resourceVersion was answered with 410');
    stop.abort();
    await run;
  } finally {
    await s.stop();
  }
});

test('API errors back off exponentially, then list-watch recovers', async () => {
  const s = await new FakeApiServer({ dir }).start();
  try {
    s.upsert('pods', pod('a'));
    const api = kubeApiFromConfig(loadKubeConfig({ kubeconfig: s.writeKubeconfig() }));
    s.failNext(3, 503, (method, _p, q) => method === 'GET' && !q.watch);
    const errors: Array<{ attempt: number; delay: number; status?: number }> = [];
    const m = mirror();
    const r = new Reflector<Pod>({
      api, path: '/api/v1/pods', backoffInitialMs: 40, backoffMaxMs: 1000,
      onError: (e, attempt, delay) => errors.push({ attempt, delay, ...(e instanceof KubeApiError ? { status: e.status } : {}) }),
    }, m.h);
    const stop = new AbortController();
    const run = r.run(stop.signal);
    await until(() => s.openWatches === 1, 'recovery');
    assert.deepEqual(errors.map((e) => [e.attempt, e.status]), [[1, 503], [2, 503], [3, 503]]);
    assert.ok(errors[2]!.delay >= 80 && errors[2]!.delay <= 160, `third delay ${errors[2]!.delay} within [2x, 4x] of 40 ms`);
    assert.equal(m.objs.size, 1);
    stop.abort();
    await run;
  } finally {
    await s.stop();
  }
  // The schedule itself: doubling, capped, jitter within [half, full].
  assert.equal(backoffDelay(1, 100, 1000, () => 0), 50);
  assert.equal(backoffDelay(4, 100, 1000, () => 1), 800);
  assert.equal(backoffDelay(9, 100, 1000, () => 1), 1000);
});
