// Scenario (#18, opt-in: `npm run bench -- --redirects`, or alone: node --import tsx bench/redirects.ts):
// warm blob downloads by N clients through two regway processes on one real Ceph RGW, one that
// streams the blob from the bucket and one that answers 307 to a presigned URL (the clients follow
// it to RGW). Every body is hashed and compared with the digest. Measured: client throughput, and
// the CPU seconds regway (and radosgw) used per GB the clients received, from /proc/<pid>/stat.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startCeph, type Ceph } from '../test/helpers/ceph.js';
import { startDistribution } from '../test/helpers/distribution.js';
import { pushImage } from '../test/helpers/images.js';
import { startInstance, type Instance } from '../test/helpers/instance.js';
import { cpuSeconds } from './lib/rss.js';
import { formatRedirectMarkdown, redirectRows, type ModeLoad, type RedirectBench } from './lib/redirect-table.js';

const REG = 'registry.bench';
const NAME = 'bench/app';

export interface RedirectBenchOptions {
  layerSize: number;
  clients: number;
  /** Measured seconds per mode, cut into `rounds` slices interleaved between the modes. */
  durationSec: number;
  rounds: number;
  warmupSec: number;
}

interface Download { bytes: number; redirected: boolean; error?: string }

/** One blob download as a client does it: GET from regway, follow a 307 (without credentials), hash the body. */
async function download(agent: Agent, url: string, digest: string): Promise<Download> {
  const r = await request(url, { dispatcher: agent });
  let body = r.body;
  let status = r.statusCode;
  const redirected = status === 307;
  if (redirected) {
    await r.body.dump();
    const next = await request(String(r.headers.location), { dispatcher: agent });
    [body, status] = [next.body, next.statusCode];
  }
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of body) { h.update(c as Buffer); bytes += (c as Buffer).length; }
  const got = `sha256:${h.digest('hex')}`;
  if (status !== 200 || got !== digest) return { bytes: 0, redirected, error: `HTTP ${status}, digest ${got.slice(0, 19)}` };
  return { bytes, redirected };
}

/** N clients downloading in a loop until the deadline (each finishes the download it started). */
async function load(agent: Agent, url: string, digest: string, clients: number, seconds: number): Promise<Omit<ModeLoad, 'regwayCpuSec' | 'rgwCpuSec'>> {
  const acc = { requests: 0, redirects: 0, bytes: 0, errors: [] as string[] };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const d = await download(agent, url, digest).catch((e: Error) => ({ bytes: 0, redirected: false, error: e.message }));
      if (d.error) { acc.errors.push(d.error); continue; }
      acc.requests++;
      acc.bytes += d.bytes;
      if (d.redirected) acc.redirects++;
    }
  }));
  return { ...acc, wallSec: (performance.now() - t0) / 1000 };
}

/** This cluster's radosgw (its command line names our ceph.conf); it writes no pid file in the foreground. */
function rgwPid(ceph: Ceph): number | undefined {
  const conf = join(ceph.dir, 'ceph.conf');
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const cmd = (() => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'); } catch { return []; } })();
    if (cmd[0]?.endsWith('radosgw') && cmd.includes(conf)) return Number(p);
  }
  return undefined;
}

/** Regway on the bucket under its own prefix, streaming or redirecting. */
function startGateway(ceph: Ceph, bucket: string, upstream: string, redirect: boolean): Promise<Instance> {
  return startInstance({
    storage: { driver: 's3', s3: { bucket, endpoint: ceph.endpoint, region: ceph.region, prefix: redirect ? 'redirect' : 'stream', accessKeyId: ceph.accessKey, secretAccessKey: { env: 'S3_SECRET' } } },
    registries: { [REG]: { upstreams: [{ url: upstream }], ...(redirect ? { redirect: { mode: 'presigned', expiry: '5m' } } : {}) } },
    log: { level: 'warn' },
  }, { S3_SECRET: ceph.secretKey });
}

/** Pulls the blob once (a miss: streamed and committed), then until a GET answers as warm. */
async function warm(agent: Agent, url: string, digest: string, redirect: boolean): Promise<void> {
  const first = await download(agent, url, digest);
  if (first.error) throw new Error(`${url}: first download: ${first.error}`);
  for (let i = 0; i < 100; i++) {
    const r = await request(url, { dispatcher: agent, method: 'GET' });
    await r.body.dump();
    if (redirect ? r.statusCode === 307 : r.headers['x-regway-cache'] === 'hit') return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${url}: never answered as a warm ${redirect ? 'redirect' : 'hit'}`);
}

export async function redirectBench(o: RedirectBenchOptions, say: (m: string) => void = () => {}): Promise<RedirectBench> {
  say('starting Ceph RGW and distribution');
  const [ceph, up] = await Promise.all([startCeph(), startDistribution()]);
  const stops: (() => Promise<void>)[] = [() => ceph.stop(), () => up.stop()];
  const agent = new Agent({ connections: o.clients * 2, bodyTimeout: 120_000, headersTimeout: 60_000 });
  try {
    const img = await pushImage(up.url, NAME, 'v1', { layers: 1, layerSize: o.layerSize });
    const layer = img.layers[0]!;
    const bucket = await ceph.createBucket('bench');
    const [stream, redir] = await Promise.all([startGateway(ceph, bucket, up.url, false), startGateway(ceph, bucket, up.url, true)]);
    stops.push(() => stream.stop(), () => redir.stop());
    const modes = [
      { name: 'streaming' as const, gw: stream, redirect: false },
      { name: 'redirect' as const, gw: redir, redirect: true },
    ].map((m) => ({ ...m, url: `${m.gw.url}/v2/${REG}/${NAME}/blobs/${layer.digest}` }));
    for (const m of modes) {
      await warm(agent, m.url, layer.digest, m.redirect);
      if (o.warmupSec > 0) await load(agent, m.url, layer.digest, o.clients, o.warmupSec);
    }
    const rgw = rgwPid(ceph);
    const acc = { streaming: empty(rgw), redirect: empty(rgw) };
    const slice = Math.max(1, o.durationSec / o.rounds);
    for (let r = 0; r < o.rounds; r++) {
      for (const m of r % 2 ? [...modes].reverse() : modes) {
        say(`round ${r + 1}/${o.rounds}: ${m.name}, ${o.clients} clients, ${slice.toFixed(1)} s`);
        const [cpu0, rgw0] = [cpuSeconds(m.gw.pid), rgw ? cpuSeconds(rgw) : 0];
        const res = await load(agent, m.url, layer.digest, o.clients, slice);
        const a = acc[m.name];
        a.regwayCpuSec += cpuSeconds(m.gw.pid) - cpu0;
        if (rgw) a.rgwCpuSec! += cpuSeconds(rgw) - rgw0;
        a.requests += res.requests; a.redirects += res.redirects; a.bytes += res.bytes; a.wallSec += res.wallSec;
        a.errors.push(...res.errors.slice(0, 5));
      }
    }
    return { layerBytes: layer.size, clients: o.clients, ...acc };
  } finally {
    await agent.close();
    for (const stop of stops.reverse()) await stop().catch((e: Error) => say(`stop failed: ${e.message}`));
  }
}

function empty(rgw: number | undefined): ModeLoad {
  return { requests: 0, redirects: 0, bytes: 0, wallSec: 0, regwayCpuSec: 0, ...(rgw ? { rgwCpuSec: 0 } : {}), errors: [] };
}

/** Runs it, prints the table; the exit status says whether the target was met (1) or the run failed (2). */
export async function runRedirectBench(o: RedirectBenchOptions, say: (m: string) => void): Promise<number> {
  const res = await redirectBench(o, say);
  const rows = redirectRows(res);
  process.stdout.write(`\nBlob redirects (#18): ${res.clients} clients, ${(res.layerBytes / 1e6).toFixed(0)} MB blob, ${o.durationSec} s per mode in ${o.rounds} interleaved rounds\n\n${formatRedirectMarkdown(rows)}\n\n`);
  process.stdout.write(`raw: ${JSON.stringify(res)}\n`);
  return rows.every((r) => r.met !== false) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: f } = parseArgs({ options: { 'layer-mb': { type: 'string' }, clients: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' }, warmup: { type: 'string' } } });
  const o = { layerSize: Math.round(Number(f['layer-mb'] ?? 20) * 1e6), clients: Number(f.clients ?? 8), durationSec: Number(f.duration ?? 12), rounds: Number(f.rounds ?? 4), warmupSec: Number(f.warmup ?? 2) };
  runRedirectBench(o, (m) => process.stderr.write(`[bench:redirects] ${m}\n`)).then((c) => process.exit(c), (e: Error) => {
    process.stderr.write(`[bench:redirects] failed: ${e.stack ?? e.message}\n`);
    process.exit(2);
  });
}
