// Peer-to-peer distribution bench (issue #19), as root: N node namespaces on a bridge, every link
// shaped with tc tbf to the same rate both ways (the central gateway's too), a real distribution
// upstream, and in each node namespace a regway plus skopeo pulling one image from it, all nodes at
// once. Rows: (a) every node a plain regway pulling from the central gateway, (b) node mode (P2P),
// and the physical limit: image bytes over one node's link rate (no node can receive it faster).
// The gateway is warmed first (it holds the image), so the rows time the distribution to the nodes.
//   npm run build && node --import tsx bench/p2p.ts [--nodes 4,16] [--mb 100] [--layers 4] [--rate 200] [--d 1]
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { pushImage, type PushedImage } from '../test/helpers/images.js';
import { canShape, p2pStatus, pullOnNode, startCluster, type Cluster } from '../test/helpers/p2p-cluster.js';

const ROOT = join(import.meta.dirname, '..');

interface Row { nodes: number; mode: string; ms: number; limitMs: number; gatewayOut: number; imageBytes: number; fromPeers: number; parentChanges: number; schedulerErrors: number; cpuS: number }

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch { return 0; }
}

async function warm(c: Cluster, img: PushedImage, name: string): Promise<void> {
  for (const d of [img.config.digest, ...img.layers.map((l) => l.digest)]) {
    const r = await request(`${c.gateway.url}/v2/${name}/blobs/${d}`);
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`warming the gateway: ${d} answered ${r.statusCode}`);
  }
}

async function scenario(n: number, p2p: boolean, o: { mb: number; layers: number; rate: number; d: number }, say: (m: string) => void): Promise<Row> {
  let img: PushedImage | undefined;
  const c = await startCluster({ nodes: n, rateMbit: o.rate, maxChildren: o.d, p2p, built: existsSync(join(ROOT, 'dist/cli/main.js')) }, async (dist) => {
    img = await pushImage(dist.url, 'big', 'v1', { layers: o.layers, layerSize: Math.round((o.mb * 1024 * 1024) / o.layers) });
  });
  try {
    const image = img!;
    const imageBytes = image.layers.reduce((s, l) => s + l.size, 0) + image.config.size;
    await warm(c, image, 'big');
    const before = c.gateway.ns.txBytes();
    const cpu0 = [c.gateway, ...c.nodes].reduce((s, x) => s + cpuSeconds(x.pid), 0);
    say(`${n} nodes, ${p2p ? `P2P (d=${o.d})` : 'all from the gateway'}: pulling ${(imageBytes / 1e6).toFixed(0)} MB on every node at once`);
    const t0 = performance.now();
    const digests = await Promise.all(c.nodes.map((node) => pullOnNode(node.ns, 'big:v1', 900_000)));
    const ms = performance.now() - t0;
    for (const d of digests) if (d !== image.manifestDigest) throw new Error(`a node got manifest ${d}, not ${image.manifestDigest}`);
    const gatewayOut = c.gateway.ns.txBytes() - before;
    const stats = p2p ? await Promise.all(c.nodes.map((node) => p2pStatus(node.url))) : [];
    return {
      nodes: n, mode: p2p ? `P2P d=${o.d}` : 'gateway', ms, limitMs: (imageBytes * 8) / (o.rate * 1e6) * 1000, gatewayOut, imageBytes,
      fromPeers: stats.reduce((s, x) => s + (x.received.peer ?? 0), 0), parentChanges: stats.reduce((s, x) => s + x.parentChanges, 0),
      schedulerErrors: stats.reduce((s, x) => s + x.schedulerErrors, 0), cpuS: [c.gateway, ...c.nodes].reduce((s, x) => s + cpuSeconds(x.pid), 0) - cpu0,
    };
  } finally {
    await c.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { nodes: { type: 'string', default: '4,16' }, mb: { type: 'string', default: '100' }, layers: { type: 'string', default: '4' }, rate: { type: 'string', default: '200' }, d: { type: 'string', default: '1' }, 'skip-gateway': { type: 'boolean', default: false } } });
  if (!canShape()) { console.log('skipped: needs root, iproute2 and tc (network namespaces with tbf-shaped links)'); return; }
  const o = { mb: Number(values.mb), layers: Number(values.layers), rate: Number(values.rate) };
  const say = (m: string) => console.error(`[p2p bench] ${m}`);
  const rows: Row[] = [];
  for (const n of values.nodes.split(',').map(Number)) {
    if (!values['skip-gateway']) rows.push(await scenario(n, false, { ...o, d: 1 }, say));
    for (const d of values.d.split(',').map(Number)) rows.push(await scenario(n, true, { ...o, d }, say));
  }
  console.log(`\n${o.mb} MB image (${o.layers} layers), every link ${o.rate} Mbit/s each way (tc tbf)\n`);
  console.log('| nodes | mode | all nodes hold the verified image | vs limit | gateway bytes out / image | bytes from peers | parent changes | scheduler errors | regway CPU s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const gw = rows.find((x) => x.nodes === r.nodes && x.mode === 'gateway');
    const speedup = gw && r !== gw ? ` (${(gw.ms / r.ms).toFixed(1)}x faster than the gateway)` : '';
    console.log(`| ${r.nodes} | ${r.mode} | ${(r.ms / 1000).toFixed(1)} s${speedup} | ${(r.ms / r.limitMs).toFixed(2)}x of ${(r.limitMs / 1000).toFixed(1)} s | ${(r.gatewayOut / r.imageBytes).toFixed(2)} | ${(r.fromPeers / 1e6).toFixed(0)} MB | ${r.parentChanges} | ${r.schedulerErrors} | ${r.cpuS.toFixed(0)} |`);
  }
}

await main();
