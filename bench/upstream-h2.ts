// HTTP/2 versus HTTP/1.1 to an upstream (whether `http2: true` is worth turning on): the same cold pull of an image with many small
// layers through regway, once with `http2: true` on the upstream and once without. The upstream is
// a real distribution behind nginx terminating TLS with HTTP/2 (ALPN), as CDNs and ingresses do.
// Run: node --import tsx bench/upstream-h2.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startDistribution } from '../test/helpers/distribution.js';
import { pushImage } from '../test/helpers/images.js';
import { startNginx } from '../test/helpers/nginx.js';
import { startGateway } from '../test/helpers/gateway.js';

const LAYERS = Number(process.env.H2_LAYERS ?? 60);
const LAYER_SIZE = Number(process.env.H2_LAYER_SIZE ?? 64 * 1024);
const ROUNDS = Number(process.env.H2_ROUNDS ?? 3);

export interface H2Result { layers: number; layerSize: number; h1Ms: number; h2Ms: number; ratio: number }

async function coldPull(http2: boolean, upstreamUrl: string, ca: string, digests: string[]): Promise<number> {
  const REG = 'registry.h2.test';
  const gw = await startGateway({ registries: { [REG]: { upstreams: [{ url: upstreamUrl, http2, tls: { ca } }] } } });
  try {
    const t0 = performance.now();
    // All blobs at once, as containerd does with max_concurrent_downloads: many parallel streams.
    await Promise.all(digests.map(async (d) => {
      const r = await request(`${gw.url}/v2/${REG}/team/many/blobs/${d}`);
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`blob ${d}: ${r.statusCode}`);
    }));
    return performance.now() - t0;
  } finally { await gw.stop(); }
}

export async function runUpstreamH2(): Promise<H2Result> {
  const dir = mkdtempSync(join(tmpdir(), 'regway-h2-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const up = await startDistribution({ logAccess: false });
  const img = await pushImage(up.url, 'team/many', 'v1', { layers: LAYERS, layerSize: LAYER_SIZE });
  const front = await startNginx(`location / { proxy_pass ${up.url}; }`, { ssl: { cert, key, http2: true } });
  try {
    const digests = img.layers.map((l) => l.digest);
    const h1: number[] = [];
    const h2: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      h1.push(await coldPull(false, front.url, cert, digests));
      h2.push(await coldPull(true, front.url, cert, digests));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const h1Ms = Math.round(med(h1));
    const h2Ms = Math.round(med(h2));
    return { layers: LAYERS, layerSize: LAYER_SIZE, h1Ms, h2Ms, ratio: Math.round((h1Ms / h2Ms) * 100) / 100 };
  } finally { await front.stop(); await up.stop(); rmSync(dir, { recursive: true, force: true }); }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runUpstreamH2();
  console.log(JSON.stringify(r));
  console.log(`cold pull of ${r.layers} x ${r.layerSize} B layers through regway: HTTP/1.1 ${r.h1Ms} ms, HTTP/2 ${r.h2Ms} ms (h1/h2 = ${r.ratio}x)`);
}
