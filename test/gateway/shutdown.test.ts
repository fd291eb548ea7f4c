// Graceful shutdown of `regway serve` as its own process: SIGTERM lets a download under way finish
// with exact bytes, even when the signal arrives twice (once to the process, once to its group, as
// `kill -- -PID`, process supervisors and our own test helpers send it). A one-shot handler used to
// let the second copy kill the process mid-download.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { startDistribution, type Distribution } from '../helpers/distribution.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { waitFor } from '../helpers/wait.js';

const REG = 'registry.shutdown.test';
let up: Distribution;
let slow: Nginx;
let img: PushedImage;
let gw: Instance;

before(async () => {
  up = await startDistribution();
  img = await pushImage(up.url, 'team/app', 'v1', { layers: 1, layerSize: 6 * 1024 * 1024 });
  // 6 MB at 2 MB/s: the download is still running when the signals arrive.
  slow = await startNginx(`location / { proxy_pass ${up.url}; proxy_buffering on; limit_rate 2m; }`);
  gw = await startInstance({ registries: { [REG]: { upstreams: [{ url: slow.url }] } }, log: { level: 'info' } });
});
after(async () => { await gw?.stop(); await slow?.stop(); await up?.stop(); });

it('SIGTERM twice during a download: the download completes with exact bytes, then the process exits', async () => {
  const layer = img.layers[0]!;
  const res = await request(`${gw.url}/v2/${REG}/team/app/blobs/${layer.digest}`);
  assert.equal(res.statusCode, 200);
  const hash = createHash('sha256');
  let bytes = 0;
  let signalled = false;
  for await (const chunk of res.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    if (!signalled && bytes > 512 * 1024) {
      signalled = true;
      gw.signal('SIGTERM');
      // Two signals sent back to back may be merged by the kernel (standard signals do not queue):
      // send the second once the first is being handled, as a group signal's second copy can be.
      await waitFor(() => /shutting down/.test(readFileSync(gw.logFile, 'utf8')), 'the first SIGTERM handled ("shutting down" in the log)', 5_000, { seen: () => readFileSync(gw.logFile, 'utf8').slice(-1500) });
      gw.signal('SIGTERM');
    }
  }
  assert.ok(signalled, 'the signals were sent while the body was streaming');
  assert.equal(bytes, layer.size);
  assert.equal(`sha256:${hash.digest('hex')}`, layer.digest);
  // The process finishes its shutdown and exits on its own: then nothing listens on its port.
  const refused = () => request(`${gw.url}/healthz`, { reset: true }).then(async (r) => { await r.body.dump(); return false; }, () => true);
  await waitFor(refused, 'the process to exit (nothing listening on its port)', 15_000, { seen: () => `still answering; its log:\n${readFileSync(gw.logFile, 'utf8').slice(-1500)}` });
  const log = readFileSync(gw.logFile, 'utf8');
  assert.match(log, /shutting down: finishing in-flight requests/);
  assert.match(log, /already shutting down/, 'the second signal was absorbed, not fatal');
});
