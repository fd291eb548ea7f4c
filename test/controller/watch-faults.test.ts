// Backoff on API errors, against the in-test API server (fake-apiserver.ts). This is the one thing
// here the real kube-apiserver cannot do for a test: answer a chosen request with 503 on demand.
// Everything else about list/watch (paging, resume, real BOOKMARKs, a real 410 Gone after an etcd
// compaction) is proven against the real one in watch.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { kubeApiFromConfig, loadKubeConfig, KubeApiError } from '../../src/controller/kube-client.js';
import { Reflector, backoffDelay } from '../../src/controller/watch.js';
import type { Pod } from '../../src/controller/k8s-types.js';
import { waitFor } from '../helpers/wait.js';
import { mirror } from './mirror.js';

const dir = mkdtempSync(join(tmpdir(), 'regway-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pod(name: string, ns = 'default'): Pod {
  return { metadata: { name, namespace: ns }, spec: { containers: [{ name: 'app', image: 'x:1' }] } };
}

const until = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => { await waitFor(cond, what, ms); };


test('API errors back off exponentially, then list-watch recovers', async () => {
  const s = await new FakeApiServer({ dir }).start();
  try {
    s.upsert(pod('a'));
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
