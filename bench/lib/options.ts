// Benchmark options: flags override BENCH_* environment variables, which override the defaults.
// The defaults keep a whole run under ~5 minutes on the 2-core CI machine.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  layers: number;
  /** Bytes of random content per layer. */
  layerSize: number;
  clients: number;
  /** Parallel blob downloads per pulling client (containerd's default is 3). */
  pullParallel: number;
  durationSec: number;
  warmupSec: number;
  /** Interleaved slices each measured duration is cut into (see LoadOptions.rounds). */
  rounds: number;
  manifestConnections: number;
  blobConnections: number;
  threads: number;
  nginxWorkers: number | 'auto';
  writeDocs: boolean;
  cpuProfDir: string | undefined;
  /** Another regway entry point (e.g. a build of another branch) for A/B runs. */
  regwayBin: string | undefined;
  /** The far-upstream scenario's link rate in Mbit/s; 0 skips it. */
  farRateMbit: number;
  /** Opt-in: also run bench/cache-scale.ts (#16) with these sizes; undefined skips it. */
  cacheScaleSizes: string | undefined;
  /** MB of the one-layer scenario pulled cold by bigLayerClients (memory flat in layer size); 0 skips it. */
  bigLayerMb: number;
  bigLayerClients: number;
  /** Run only the big-layer scenario (no table in the docs: the other rows would be missing). */
  bigLayerOnly: boolean;
  /** Opt-in: also run bench/redirects.ts (#18: warm blobs streamed vs redirected, on a real Ceph RGW). */
  redirects: boolean;
  help: boolean;
}

export const HELP = `Usage: npm run bench -- [options]      (or: node --import tsx bench/run.ts [options])

Side-by-side benchmark of regway against distribution's proxy mode, with nginx serving the same
blob files as the ceiling. Everything runs on 127.0.0.1 with fresh temp dirs; prints a table of
ratios, writes bench/results/<timestamp>.json and regenerates the table in docs/benchmarks.md.

Options (environment variable in brackets):
  --layers N                 layers in the generated image             [BENCH_LAYERS]      default 5
  --layer-mb N               MB of random content per layer            [BENCH_LAYER_MB]    default 20
  --clients N                concurrent cold-pull clients              [BENCH_CLIENTS]     default 10
  --pull-parallel N          parallel blob downloads per client        [BENCH_PULL_PARALLEL] default 3
  --duration S               seconds per measured load run             [BENCH_DURATION]    default 12
  --warmup S                 unmeasured seconds before each run        [BENCH_WARMUP]      default 2
  --rounds N                 interleaved slices per measured run (whole seconds each) [BENCH_ROUNDS] default 3
  --manifest-connections N   wrk connections for manifests             [BENCH_MANIFEST_CONNECTIONS] default 16
  --blob-connections N       wrk connections (clients) for blobs       [BENCH_BLOB_CONNECTIONS] default 8
  --threads N                wrk threads                               [BENCH_THREADS]     default 2
  --nginx-workers N|auto     nginx worker_processes                    [BENCH_NGINX_WORKERS] default auto
  --cpu-prof DIR             run regway with node --cpu-prof into DIR  [BENCH_CPU_PROF]
  --regway-bin PATH          regway entry point to run (A/B a build)  [BENCH_REGWAY_BIN]  default bin/regway
  --far-mbit N               link rate of the far-upstream scenario (root only; 0 skips it) [BENCH_FAR_MBIT] default 400
  --cache-scale              also run the cache-at-scale benchmark (bench/cache-scale.ts, #16; minutes: it synthesises 300k files)
  --cache-scale-sizes N,N    its cache sizes in blobs (implies --cache-scale) [BENCH_CACHE_SCALE_SIZES] default 30000,300000
  --big-layer-mb N           one layer of N MB pulled cold by --big-layer-clients at once: upstream bytes and peak RSS (0 skips it) [BENCH_BIG_LAYER_MB] default 0
  --big-layer-clients N      clients of that scenario                  [BENCH_BIG_LAYER_CLIENTS] default 5
  --big-layer-only           run only that scenario (implies --no-docs)
  --redirects                also run the blob-redirect benchmark (bench/redirects.ts, #18): --blob-connections clients on
                             one --layer-mb blob, streamed vs 307 to a presigned URL, on a real Ceph RGW [BENCH_REDIRECTS=1]
  --no-docs                  do not rewrite docs/benchmarks.md
  -h, --help                 this text

Examples:
  npm run bench
  npm run bench -- --layers 3 --layer-mb 8 --duration 5 --no-docs     # a quick smoke run
  npm run bench -- --big-layer-mb 2048 --big-layer-only               # 5 clients on a cold 2 GB layer
  npm run bench -- --redirects                                         # adds regway CPU per GB, streamed vs redirected
  npm run bench -- --cpu-prof /tmp/prof --no-docs                      # then: node --import tsx bench/cpuprofile.ts /tmp/prof/*.cpuprofile
`;

function num(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

/** Parses argv (without node and script) and env into options; throws with a clear message on bad input. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values: f } = parseArgs({
    args: argv,
    options: {
      layers: { type: 'string' }, 'layer-mb': { type: 'string' }, clients: { type: 'string' }, 'pull-parallel': { type: 'string' },
      duration: { type: 'string' }, warmup: { type: 'string' }, rounds: { type: 'string' }, 'manifest-connections': { type: 'string' },
      'blob-connections': { type: 'string' }, threads: { type: 'string' }, 'nginx-workers': { type: 'string' },
      'cpu-prof': { type: 'string' }, 'regway-bin': { type: 'string' }, 'far-mbit': { type: 'string' }, 'no-docs': { type: 'boolean' },
      'cache-scale': { type: 'boolean' }, 'cache-scale-sizes': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'big-layer-mb': { type: 'string' }, 'big-layer-clients': { type: 'string' }, 'big-layer-only': { type: 'boolean' },
      redirects: { type: 'boolean' },
    },
    strict: true,
  });
  const pick = (flag: string, envName: string) => (f as Record<string, string | undefined>)[flag] ?? env[envName];
  const workers = pick('nginx-workers', 'BENCH_NGINX_WORKERS') ?? 'auto';
  const warmup = pick('warmup', 'BENCH_WARMUP');
  const big = pick('big-layer-mb', 'BENCH_BIG_LAYER_MB');
  return {
    layers: Math.round(num('--layers', pick('layers', 'BENCH_LAYERS'), 5)),
    layerSize: Math.round(num('--layer-mb', pick('layer-mb', 'BENCH_LAYER_MB'), 20) * 1e6),
    clients: Math.round(num('--clients', pick('clients', 'BENCH_CLIENTS'), 10)),
    pullParallel: Math.round(num('--pull-parallel', pick('pull-parallel', 'BENCH_PULL_PARALLEL'), 3)),
    durationSec: num('--duration', pick('duration', 'BENCH_DURATION'), 12),
    warmupSec: warmup === '0' ? 0 : num('--warmup', warmup, 2),
    rounds: Math.round(num('--rounds', pick('rounds', 'BENCH_ROUNDS'), 3)),
    manifestConnections: Math.round(num('--manifest-connections', pick('manifest-connections', 'BENCH_MANIFEST_CONNECTIONS'), 16)),
    blobConnections: Math.round(num('--blob-connections', pick('blob-connections', 'BENCH_BLOB_CONNECTIONS'), 8)),
    threads: Math.round(num('--threads', pick('threads', 'BENCH_THREADS'), 2)),
    nginxWorkers: workers === 'auto' ? 'auto' : Math.round(num('--nginx-workers', workers, 1)),
    writeDocs: !f['no-docs'] && !f['big-layer-only'],
    cpuProfDir: pick('cpu-prof', 'BENCH_CPU_PROF'),
    regwayBin: pick('regway-bin', 'BENCH_REGWAY_BIN'),
    farRateMbit: pick('far-mbit', 'BENCH_FAR_MBIT') === '0' ? 0 : Math.round(num('--far-mbit', pick('far-mbit', 'BENCH_FAR_MBIT'), 400)),
    cacheScaleSizes: pick('cache-scale-sizes', 'BENCH_CACHE_SCALE_SIZES') ?? (f['cache-scale'] ? '30000,300000' : undefined),
    bigLayerMb: big === '0' ? 0 : num('--big-layer-mb', big, f['big-layer-only'] ? 2048 : 0),
    bigLayerClients: Math.round(num('--big-layer-clients', pick('big-layer-clients', 'BENCH_BIG_LAYER_CLIENTS'), 5)),
    bigLayerOnly: f['big-layer-only'] === true,
    redirects: f.redirects === true || env.BENCH_REDIRECTS === '1',
    help: f.help === true,
  };
}
