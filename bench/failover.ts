// Failover benchmark (what a pull costs while an upstream dies): time from a primary upstream's failure to the first successful
// pull, and the latency added while one of two upstreams is down, against the same gateway with
// both up. Real distribution registries; nginx in front of the primary so it can be killed.
// Run: node --import tsx bench/failover.ts   (also part of npm run bench)
import { request } from 'undici';
import { startDistribution } from '../test/helpers/distribution.js';
import { buildImage, pushBuiltImage } from '../test/helpers/images.js';
import { startNginx } from '../test/helpers/nginx.js';
import { startGateway } from '../test/helpers/gateway.js';
import { createServer, type Socket } from 'node:net';
import { freePort } from '../test/helpers/ports.js';

const REG = 'registry.bench.test';
const N = Number(process.env.FAILOVER_REQUESTS ?? 300);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface FailoverResult {
  baselineP50: number; baselineP99: number;
  downP50: number; downP99: number; addedP99: number;
  killToFirstSuccessMs: number;
  hangToFirstSuccessMs: number; headersTimeoutMs: number;
}

/** One tag request that must reach an upstream (tagTtl 0: every request revalidates with HEAD). */
async function tagPull(url: string, accept: string): Promise<number> {
  const t0 = performance.now();
  const r = await request(`${url}/v2/${REG}/team/app/manifests/v1`, { headers: { accept } });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(`pull failed: ${r.statusCode}`);
  return performance.now() - t0;
}

async function series(url: string, accept: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await tagPull(url, accept));
  return out;
}

export async function runFailover(): Promise<FailoverResult> {
  const [primary, secondary] = await Promise.all([startDistribution({ logAccess: false }), startDistribution({ logAccess: false })]);
  const img = buildImage({ layers: 1, layerSize: 100_000 });
  await pushBuiltImage(primary.url, 'team/app', 'v1', img);
  await pushBuiltImage(secondary.url, 'team/app', 'v1', img);
  const front = await startNginx(`location / { proxy_pass ${primary.url}; }`);
  const headersTimeoutMs = 1000;
  const up = (u: string, role: 'mirror' | 'origin') => ({ url: u, role, timeouts: { connect: '1s', headers: `${headersTimeoutMs}ms`, idle: '5s' } });
  const gw = await startGateway({ registries: { [REG]: { upstreams: [up(front.url, 'mirror'), up(secondary.url, 'origin')], tagTtl: '0s' } } });
  const sockets: Socket[] = [];
  const hang = createServer((s) => { sockets.push(s); s.on('error', () => {}); });
  try {
    await series(gw.url, img.mediaType, 20); // warm: manifest cached, connections open
    const baseline = await series(gw.url, img.mediaType, N);
    front.kill();
    const killed = performance.now();
    await tagPull(gw.url, img.mediaType);
    const killToFirstSuccessMs = performance.now() - killed;
    const down = await series(gw.url, img.mediaType, N);

    // A hanging primary (accepts, never answers) costs one headers timeout, then its circuit opens.
    const port = await freePort();
    await new Promise<void>((r) => hang.listen(port, '127.0.0.1', r));
    const gw2 = await startGateway({ registries: { [REG]: { upstreams: [up(`http://127.0.0.1:${port}`, 'mirror'), up(secondary.url, 'origin')], tagTtl: '0s' } } });
    const t0 = performance.now();
    await tagPull(gw2.url, img.mediaType);
    const hangToFirstSuccessMs = performance.now() - t0;
    await gw2.stop();

    const r = (x: number) => Math.round(x * 100) / 100;
    return {
      baselineP50: r(pct(baseline, 50)), baselineP99: r(pct(baseline, 99)),
      downP50: r(pct(down, 50)), downP99: r(pct(down, 99)), addedP99: r(pct(down, 99) - pct(baseline, 99)),
      killToFirstSuccessMs: r(killToFirstSuccessMs), hangToFirstSuccessMs: r(hangToFirstSuccessMs), headersTimeoutMs,
    };
  } finally {
    for (const s of sockets) s.destroy();
    hang.close();
    await gw.stop(); await front.stop(); await primary.stop(); await secondary.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const res = await runFailover();
  console.log(JSON.stringify(res, null, 2));
  console.log(`time from primary killed to first successful pull: ${res.killToFirstSuccessMs} ms (target < 1000 ms)`);
  console.log(`time from primary hanging to first successful pull: ${res.hangToFirstSuccessMs} ms (= one headers timeout of ${res.headersTimeoutMs} ms)`);
  console.log(`tag pull p99 with both up: ${res.baselineP99} ms; with the primary down: ${res.downP99} ms; added: ${res.addedP99} ms`);
}
