// Fleet benchmark (does adding instances add throughput without multiplying upstream traffic?): cold-pull throughput of 1, 2 and 3 regway instances on one S3 bucket
// (a real Ceph RGW) with Redis coordination, behind nginx round robin, and the upstream
// amplification (bytes the upstream served / image bytes) for each.
// Run: node --import tsx bench/fleet.ts   (FLEET_BENCH_MB, FLEET_BENCH_CLIENTS to resize)
import { createHash } from 'node:crypto';
import { request, Agent } from 'undici';
import { startCeph } from '../test/helpers/ceph.js';
import { startRedis } from '../test/helpers/redis.js';
import { startDistribution } from '../test/helpers/distribution.js';
import { pushImage, type PushedImage } from '../test/helpers/images.js';
import { startNginx } from '../test/helpers/nginx.js';
import { startInstance } from '../test/helpers/instance.js';
import { freePort } from '../test/helpers/ports.js';

const MB = 1024 * 1024;
const IMAGE_MB = Number(process.env.FLEET_BENCH_MB ?? 100);
const CLIENTS = Number(process.env.FLEET_BENCH_CLIENTS ?? 12);
const REG = 'registry.fleet.bench';

export interface FleetRow { instances: number; clients: number; imageMB: number; wallMs: number; clientMBps: number; amplification: number }

async function pull(lb: string, img: PushedImage, agent: Agent): Promise<number> {
  let n = 0;
  for (const b of [img.config, ...img.layers]) {
    const r = await request(`${lb}/v2/${REG}/team/big/blobs/${b.digest}`, { dispatcher: agent });
    const h = createHash('sha256');
    for await (const c of r.body) { h.update(c as Buffer); n += (c as Buffer).length; }
    if (`sha256:${h.digest('hex')}` !== b.digest) throw new Error(`wrong bytes for ${b.digest}`);
  }
  return n;
}

export async function runFleet(counts = [1, 2, 3]): Promise<FleetRow[]> {
  const [ceph, redis, up] = await Promise.all([startCeph(), startRedis(), startDistribution()]);
  const img = await pushImage(up.url, 'team/big', 'v1', { layers: 5, layerSize: (IMAGE_MB / 5) * MB });
  const imageBytes = [img.config, ...img.layers].reduce((s, b) => s + b.size, 0);
  const rows: FleetRow[] = [];
  try {
    for (const count of counts) {
      const bucket = await ceph.createBucket('bench');
      const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
      const instances = await Promise.all(ports.map((port, i) => startInstance({
        storage: { driver: 's3', s3: { bucket, endpoint: ceph.endpoint, region: ceph.region, prefix: 'regway', accessKeyId: ceph.accessKey, secretAccessKey: { env: 'S3_SECRET' } } },
        registries: { [REG]: { upstreams: [{ url: up.url }] } },
        cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, peerToken: { env: 'PEER_TOKEN' }, instanceId: `b${i}` },
        log: { level: 'warn' },
      }, { S3_SECRET: ceph.secretKey, PEER_TOKEN: 'bench' }, port)));
      const lb = await startNginx('location / { proxy_pass http://fleet; proxy_read_timeout 300s; }', {
        httpExtra: `upstream fleet { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} }`,
      });
      const agent = new Agent({ connections: 256, bodyTimeout: 300_000, headersTimeout: 300_000 });
      try {
        const before = (await up.accessLog()).length;
        const t0 = performance.now();
        const got = await Promise.all(Array.from({ length: CLIENTS }, () => pull(lb.url, img, agent)));
        const wallMs = performance.now() - t0;
        const upstreamBytes = (await up.accessLog()).slice(before).filter((l) => l.method === 'GET' && l.path.includes('/blobs/')).reduce((s, l) => s + l.bytes, 0);
        const total = got.reduce((s, n) => s + n, 0);
        rows.push({ instances: count, clients: CLIENTS, imageMB: IMAGE_MB, wallMs: Math.round(wallMs), clientMBps: Math.round(total / MB / (wallMs / 1000)), amplification: Math.round((upstreamBytes / imageBytes) * 100) / 100 });
      } finally { await agent.close(); await lb.stop(); await Promise.all(instances.map((i) => i.stop())); }
    }
  } finally { await up.stop(); await redis.stop(); await ceph.stop(); }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runFleet();
  console.log('| instances | clients | image | wall time | client throughput | upstream amplification |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.instances} | ${r.clients} | ${r.imageMB} MB | ${(r.wallMs / 1000).toFixed(1)} s | ${r.clientMBps} MB/s | ${r.amplification.toFixed(2)}x |`);
  const base = rows[0]!;
  for (const r of rows.slice(1)) console.log(`${r.instances} instances vs 1: throughput ${(r.clientMBps / base.clientMBps).toFixed(2)}x`);
}
