// `regway controller` as a real process: it takes the Lease, serves /metrics and /readyz, and on
// SIGTERM releases the Lease and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from './fake-apiserver.js';
import { makeTempDir, removeTempDir, run } from '../helpers/proc.js';
import type { Lease } from '../../src/controller/k8s-types.js';

const script = fileURLToPath(new URL('./run-cli.ts', import.meta.url));

async function until<T>(f: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('regway controller --help shows examples', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', script, 'controller', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Examples:\n\s+regway controller/);
  assert.match(r.stdout, /--pull-secret <name>/);
});

test('regway controller: leads, serves metrics, releases the Lease on SIGTERM', async () => {
  const dir = makeTempDir('ctlcli');
  const api = await new FakeApiServer({ dir, token: 'cli-token' }).start();
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'controller', '--kubeconfig', api.writeKubeconfig(), '-n', 'team-a',
    '--lease-namespace', 'regway-system', '--identity', 'cli-1', '--metrics-listen', '127.0.0.1:0', '--interval', '1m'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const port = await until(() => /"metrics":"[^"]*:(\d+)"/.exec(out)?.[1], 'the start log line');
    await until(() => (api.get('leases', 'regway-system', 'regway-controller') as unknown as Lease | undefined)?.spec?.holderIdentity === 'cli-1' || undefined, 'the Lease');
    await until(() => api.openWatches === 2 || undefined, 'the pod and event watches');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /regway_controller_leader 1/);
    assert.match(metrics, /process_cpu_user_seconds_total/);
    // Ready once the leader's watches have listed (they have: both watches are open).
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const w = api.requests.filter((q) => q.query.watch);
    assert.ok(w.some((q) => q.path === '/api/v1/namespaces/team-a/pods'));
    assert.ok(w.some((q) => q.path === '/api/v1/namespaces/team-a/events' && q.query.fieldSelector === 'involvedObject.kind=Pod,reason=Failed'));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.equal((api.get('leases', 'regway-system', 'regway-controller') as unknown as Lease).spec!.holderIdentity, '', 'released');
    assert.match(out, /releasing the Lease/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await api.stop();
    removeTempDir(dir);
  }
});
