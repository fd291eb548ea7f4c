// `npm run bench`: starts the peers, runs every scenario, prints the table of ratios, writes the
// JSON results and regenerates the table in docs/benchmarks.md. Usage: see bench/lib/options.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { coldPull } from './cold-pull.js';
import { coldSingle } from './cold-single.js';
import { farUpstream } from './far-upstream.js';
import { warmManifests } from './warm-manifests.js';
import { warmBlobs, largestLayer } from './warm-blobs.js';
import { cacheScale } from './cache-scale.js';
import { bigLayer } from './big-layer.js';
import { runRedirectBench } from './redirects.js';
import { HELP, parseOptions, type BenchOptions } from './lib/options.js';
import { ROOT, distIsStale, startDistributionProxy, startNginx, startRegway, startUpstream, type Peer } from './lib/peers.js';
import { RssSampler } from './lib/rss.js';
import { bigLayerRows, buildRows, formatText, type BenchResults, type Row } from './lib/table.js';
import { commandLine, machine, markdownBlock, updateDocs, writeJson } from './lib/report.js';

const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** bin/regway runs dist/ when present: make sure it is the current code, or fall back to tsx. */
async function regwayMode(o: BenchOptions): Promise<'dist' | 'source' | string> {
  if (o.regwayBin) return o.regwayBin;
  if (process.env.REGWAY_FROM_SOURCE) return 'source';
  if (!(await distIsStale())) return 'dist';
  say('dist/ is older than src/: npm run build');
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status === 0 || !(await distIsStale())) return 'dist';
  say('build failed; running regway from source through tsx (slower start, same code paths)');
  process.env.REGWAY_FROM_SOURCE = '1';
  return 'source';
}

async function runAll(o: BenchOptions, stops: (() => Promise<void>)[]): Promise<{ results: BenchResults; extra: Record<string, unknown> }> {
  say(`generating and pushing ${o.layers} x ${(o.layerSize / 1e6).toFixed(0)} MB layers to the upstream`);
  const up = await startUpstream({ layers: o.layers, layerSize: o.layerSize, name: 'bench/app', tag: 'v1' });
  stops.push(() => up.dist.stop());
  if (o.cpuProfDir) mkdirSync(o.cpuProfDir, { recursive: true });

  say('one client, cold: each layer direct from the upstream, then through a fresh regway and distribution proxy');
  const single = await (async () => {
    const r1 = await startRegway(up.dist, { bin: o.regwayBin });
    const d1 = await startDistributionProxy(up.dist.url);
    try { return await coldSingle(up, [r1, d1]); } finally { await r1.stop(); await d1.stop(); }
  })();
  const regway = await startRegway(up.dist, { cpuProfDir: o.cpuProfDir, bin: o.regwayBin });
  stops.push(() => regway.stop());
  const dist = await startDistributionProxy(up.dist.url);
  stops.push(() => dist.stop());
  const rssRegway = new RssSampler(regway.pid).start();
  const rssDist = new RssSampler(dist.pid).start();
  const phase = (name: string) => { rssRegway.phase(name); rssDist.phase(name); };
  phase('startup');

  say(`cold pull: ${o.clients} concurrent clients, regway`);
  const coldRegway = await coldPull(regway, up, o.clients, o.pullParallel);
  say(`cold pull: ${o.clients} concurrent clients, distribution proxy`);
  const coldDist = await coldPull(dist, up, o.clients, o.pullParallel);
  const peerLogs: Record<string, string> = {};
  for (const [p, c] of [[regway, coldRegway], [dist, coldDist]] as const) {
    if (c.clientErrors.length) peerLogs[p.name] = (await readFile(join(p.dir, 'stderr.log'), 'utf8').catch(() => '')).slice(-4000);
  }

  phase('cold pull');
  // Separate gateways (fresh caches); not sampled for RSS, which measures the main pair.
  const far = o.farRateMbit > 0 ? await farUpstream(up, o.clients, o.pullParallel, o.farRateMbit, say) : undefined;
  if (far && 'skipped' in far) say(`far upstream skipped: ${far.skipped}`);
  const peers2: Peer[] = [regway, dist];
  const mOpts = { durationSec: o.durationSec, warmupSec: o.warmupSec, rounds: o.rounds, connections: o.manifestConnections, threads: o.threads };
  say('warm manifests by tag and by digest (wrk)');
  const manifests = await warmManifests(peers2, up, mOpts);
  phase('warm manifests');

  const blobFile = join(regway.storage, 'blobs');
  if (!existsSync(blobFile)) throw new Error(`regway stored no blobs under ${blobFile}`);
  const nginx = await startNginx(regway.storage, o.nginxWorkers);
  stops.push(() => nginx.stop());
  say('warm blob throughput (wrk): regway, distribution proxy, nginx');
  const blobs = await warmBlobs([regway, dist, nginx], up, { ...mOpts, connections: o.blobConnections });
  phase('warm blobs');

  const big = await runBigLayer(o, up);
  const results: BenchResults = {
    cold: { regway: coldRegway, distribution: coldDist },
    manifestByTag: { regway: manifests.byTag.regway!, distribution: manifests.byTag['distribution-proxy']! },
    manifestByDigest: { regway: manifests.byDigest.regway!, distribution: manifests.byDigest['distribution-proxy']! },
    blobs: { regway: blobs.regway!, distribution: blobs['distribution-proxy']!, nginx: blobs.nginx!, blobBytes: largestLayer(up).size },
    rss: { regway: rssRegway.stop(), distribution: rssDist.stop() },
    coldSingle: single,
    ...(far ? { far } : {}),
    ...(big ? { bigLayer: big } : {}),
  };
  return { results, extra: { peerLogs, image: { manifestDigest: up.image.manifestDigest, layers: up.image.layers.map((l) => ({ digest: l.digest, size: l.size })) } } };
}

/** The big-layer scenario when asked for (--big-layer-mb), on its own fresh regway. */
async function runBigLayer(o: BenchOptions, up: Awaited<ReturnType<typeof startUpstream>>): Promise<BenchResults['bigLayer']> {
  if (o.bigLayerMb <= 0) return undefined;
  say(`big layer: ${o.bigLayerMb} MB, ${o.bigLayerClients} cold clients at once, fresh regway`);
  return bigLayer(up, Math.round(o.bigLayerMb * 1e6), o.bigLayerClients, o.regwayBin);
}

/** --big-layer-only: that scenario alone, against an upstream with no image. */
async function runBigLayerOnly(o: BenchOptions, stops: (() => Promise<void>)[]): Promise<{ rows: Row[]; extra: Record<string, unknown> }> {
  const up = await startUpstream({ layers: 1, layerSize: 1024, name: 'bench/app', tag: 'v1' });
  stops.push(() => up.dist.stop());
  const big = await runBigLayer(o, up);
  return { rows: bigLayerRows(big), extra: { results: { bigLayer: big } } };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv, process.env);
  if (o.help) { process.stdout.write(HELP); return 0; }
  const mode = await regwayMode(o);
  const when = new Date();
  const stops: (() => Promise<void>)[] = [];
  let rows: Row[];
  let extra: Record<string, unknown>;
  try {
    if (o.bigLayerOnly) ({ rows, extra } = await runBigLayerOnly(o, stops));
    else {
      const out = await runAll(o, stops);
      rows = buildRows(out.results);
      extra = { ...out.extra, results: out.results };
    }
  } finally {
    // Reverse order: nginx and the gateways before the upstream they talk to.
    for (const stop of stops.reverse()) await stop().catch((e: Error) => say(`stop failed: ${e.message}`));
  }
  const m = machine();
  process.stdout.write(`\n${formatText(rows)}\n\n`);
  const stamp = when.toISOString().replace(/[:.]/g, '-');
  const json = writeJson(ROOT, stamp, { when: when.toISOString(), command: commandLine(argv), machine: m, regway: mode, options: o, ...extra, rows });
  say(`results: ${json}`);
  if (o.writeDocs) say(`table: ${updateDocs(ROOT, markdownBlock(rows, o, m, when, argv))}`);
  if (o.cpuProfDir) say(`regway CPU profile(s) in ${o.cpuProfDir}`);
  // Opt-in and after the side-by-side run: it takes minutes and keeps its own table and JSON.
  const scale = o.cacheScaleSizes ? await cacheScale(['--sizes', o.cacheScaleSizes, ...(o.regwayBin ? ['--bin', o.regwayBin] : [])]) : 0;
  const redirects = o.redirects ? await runRedirectBench(
    { layerSize: o.layerSize, clients: o.blobConnections, durationSec: o.durationSec, rounds: o.rounds, warmupSec: o.warmupSec },
    (msg) => say(`redirects: ${msg}`),
  ) : 0;
  return rows.every((r) => r.met !== false) && scale === 0 && redirects === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`[bench] failed: ${e.stack ?? e.message}\n`);
  process.exit(2);
});
