// A full disk is the disk's fault, and says so. Before the fix the write error was taken for a
// broken upstream stream: the upstream was charged, "resumed" elsewhere, and the client got
// `502 UPSTREAM_UNAVAILABLE no upstream could answer` with no attempts listed.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { startDistribution } from '../helpers/distribution.js';
import { pushImage } from '../helpers/images.js';
import { startGateway } from '../helpers/gateway.js';
import { makeTempDir, removeTempDir } from '../helpers/proc.js';

const REG = 'full.test';
const root = process.getuid?.() === 0;

it('a blob that does not fit: 507 STORAGE_FULL naming the storage, a metric, and the upstream not blamed', { skip: root ? false : 'needs root to mount a small tmpfs' }, async () => {
  const dist = await startDistribution();
  const dir = makeTempDir('full');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  try {
    const img = await pushImage(dist.url, 'team/big', 'v1', { layers: 1, layerSize: 3 * 1024 * 1024 });
    const gw = await startGateway({ registries: { [REG]: [dist.url] }, storage: dir });
    try {
      const r = await request(`${gw.url}/v2/${REG}/team/big/blobs/${img.layers[0]!.digest}`);
      const text = await r.body.text().catch((e: Error) => `aborted: ${e.message}`);
      if (r.statusCode === 200) {
        // The headers may already be out when the disk fills: then the client must see an abort.
        assert.match(text, /^aborted/);
      } else {
        assert.equal(r.statusCode, 507, text);
        assert.equal(JSON.parse(text).errors[0].code, 'STORAGE_FULL');
        assert.match(text, /storage is full/);
      }
      const again = await request(`${gw.url}/v2/${REG}/team/big/blobs/${img.layers[0]!.digest}`);
      const body = await again.body.text().catch((e: Error) => `aborted: ${e.message}`);
      assert.ok(again.statusCode === 507 || /^aborted/.test(body), `${again.statusCode} ${body.slice(0, 200)}`);
      const health = gw.routes.get(REG)!.upstreams.clients[0]!.healthSnapshot();
      assert.equal(health.consecutiveFailures, 0, `the upstream is not charged: ${JSON.stringify(health)}`);
      const metrics = await (await request(`${gw.url}/metrics`)).body.text();
      assert.match(metrics, /regway_storage_errors_total\{code="ENOSPC"\} [1-9]/);
    } finally { await gw.stop(); }
  } finally {
    execFileSync('umount', [dir]);
    removeTempDir(dir);
    await dist.stop();
  }
});
