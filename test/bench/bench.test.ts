// The benchmark's pure parts (wrk output parsing, ratios and verdicts, tables, options) and one
// real wrk run against a loopback server, to prove wrk reads whole bodies and the counts add up.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseWrkOutput, runWrk, wrkArgs, type LoadResult } from '../../bench/lib/wrk.js';
import { bigLayerRows, buildRows, formatMarkdown, formatText, spliceGenerated, ratio, MB, type BenchResults } from '../../bench/lib/table.js';
import { parseStatusField, parseStatTicks } from '../../bench/lib/rss.js';
import { combine } from '../../bench/warm-manifests.js';
import { parseOptions } from '../../bench/lib/options.js';
import { upstreamTraffic } from '../../bench/cold-pull.js';
import type { AccessLine } from '../helpers/distribution.js';

// Captured from wrk 4.1.0 (Debian) with the summary script and --latency.
const WITH_JSON = `Running 1s test @ http://127.0.0.1:18777/index.html
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.85ms    6.18ms  51.14ms   94.27%
    Req/Sec   734.50    255.86     1.06k    70.00%
  742 requests in 1.02s, 137.86KB read
Requests/sec:    728.00
Transfer/sec:    135.25KB
WRK_JSON {"requests":742,"bytes":141164,"duration_us":1019230,"connect":0,"read":0,"write":0,"status":0,"timeout":0,"p50_us":1924,"p99_us":40150}
`;
// Captured without the script, against a 404 path.
const TEXT_404 = `Running 1s test @ http://127.0.0.1:18777/missing
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.24ms    3.60ms  28.62ms   87.92%
    Req/Sec   769.00    296.49     1.50k    80.00%
  772 requests in 1.01s, 392.03KB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 772
Requests/sec:    762.77
Transfer/sec:    387.35KB
`;

describe('wrk output', () => {
  it('prefers the exact JSON summary line', () => {
    const r = parseWrkOutput(WITH_JSON);
    assert.equal(r.requests, 742);
    assert.equal(r.bytes, 141164);
    assert.equal(r.durationSec, 1.01923);
    assert.ok(Math.abs(r.requestsPerSec - 742 / 1.01923) < 1e-9);
    assert.equal(r.non2xx, 0);
    assert.equal(r.socketErrors, 0);
    assert.equal(r.latencyP50Ms, 1.924);
    assert.equal(r.latencyP99Ms, 40.15);
  });

  it('falls back to the rounded text summary, with error counts', () => {
    const r = parseWrkOutput(TEXT_404);
    assert.equal(r.requests, 772);
    assert.equal(r.durationSec, 1.01);
    assert.equal(r.bytes, 392.03 * 1024);
    assert.equal(r.non2xx, 772);
    assert.equal(r.socketErrors, 6);
    assert.equal(r.latencyP50Ms, undefined);
  });

  it('refuses output without a summary instead of inventing a number', () => {
    assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /cannot parse wrk output/);
  });

  it('builds its arguments: threads never above connections, headers, a long timeout', () => {
    const a = wrkArgs({ url: 'http://h/x', durationSec: 5, connections: 1, threads: 2, headers: { accept: 'a/b' } }, '/s.lua');
    assert.deepEqual(a, ['-t', '1', '-c', '1', '-d', '5s', '--timeout', '30s', '-s', '/s.lua', '--latency', '-H', 'accept: a/b', 'http://h/x']);
  });

  it('reads whole large bodies: a real wrk run against a loopback server', async () => {
    const body = Buffer.alloc(1 << 20, 7);
    let served = 0;
    const srv = createServer((req, res) => {
      served++;
      res.writeHead(req.url === '/ok' ? 200 : 404, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const ok = await runWrk({ url: `${url}/ok`, durationSec: 1, connections: 2, threads: 1 });
      assert.ok(ok.requests > 0);
      assert.equal(ok.non2xx, 0);
      // Every completed request carried the whole 1 MiB body (plus headers and any partial body at the end).
      assert.ok(ok.bytes >= ok.requests * body.length, `${ok.bytes} bytes for ${ok.requests} requests`);
      assert.ok(ok.bytes < (ok.requests + 2) * (body.length + 1024));
      const bad = await runWrk({ url: `${url}/missing`, durationSec: 1, connections: 1, threads: 1 });
      assert.equal(bad.non2xx, bad.requests);
      assert.ok(served >= ok.requests + bad.requests);
    } finally {
      srv.close();
    }
  });
});

function load(rps: number, bytesPerSec = 0, extra: Partial<LoadResult> = {}): LoadResult {
  return { requests: Math.round(rps * 10), bytes: bytesPerSec * 10, durationSec: 10, requestsPerSec: rps, bytesPerSec, non2xx: 0, socketErrors: 0, ...extra };
}

function results(over: { regwayAmpBytes?: number; blobRegway?: number; rss?: number; manifestRegway?: LoadResult } = {}): BenchResults {
  const image = 100 * MB;
  const cold = (up: number, ms: number) => ({ clients: 10, wallMs: ms, imageBlobBytes: image, upstreamBlobBytes: up, upstreamBlobGets: 6, upstreamManifestGets: 1, clientBytes: 10 * image, clientErrors: [] as string[] });
  return {
    cold: { regway: cold(over.regwayAmpBytes ?? image, 3000), distribution: cold(8.2 * image, 6000) },
    manifestByTag: { regway: over.manifestRegway ?? load(5000), distribution: load(100) },
    manifestByDigest: { regway: load(5000), distribution: load(600) },
    // 9 GB in 10 s with 13.5 CPU-seconds: 1.5 s/GB; nginx 10 GB with 5 s: 0.5 s/GB.
    blobs: { regway: { ...load(20, over.blobRegway ?? 900 * MB), serverCpuSec: 13.5 }, distribution: load(20, 500 * MB), nginx: { ...load(50, 1000 * MB), serverCpuSec: 5 }, blobBytes: 20 * MB },
    rss: { regway: { peakRssBytes: over.rss ?? 120 * MB, hwmBytes: 0, samples: 100 }, distribution: { peakRssBytes: 100 * MB, hwmBytes: 101 * MB, samples: 100 } },
  };
}

describe('rows, ratios and verdicts', () => {
  it('computes each ratio the right way round and marks the targets', () => {
    const rows = buildRows(results());
    const by = (s: string) => rows.find((r) => r.scenario.includes(s))!;
    assert.equal(by('upstream bytes').regway, 1);
    assert.ok(Math.abs(by('upstream bytes').distribution! - 8.2) < 1e-9);
    assert.equal(by('upstream bytes').met, true);
    assert.equal(by('wall time').ratio, 2);
    assert.equal(by('wall time').met, undefined);
    assert.equal(by('by tag').ratio, 50);
    assert.equal(by('by tag').met, true);
    assert.ok(Math.abs(by('by digest').ratio! - 5000 / 600) < 1e-9);
    assert.equal(by('by digest').met, false);
    assert.equal(by('blob').ratio, 0.9);
    assert.equal(by('blob').nginx, 1000);
    assert.equal(by('blob').met, true);
    assert.equal(by('CPU per GB').regway, 1.5);
    assert.equal(by('CPU per GB').nginx, 0.5);
    assert.equal(by('CPU per GB').ratio, 3);
    assert.equal(by('RSS').regway, 120);
    assert.equal(by('RSS').distribution, 101);
    assert.equal(by('RSS').met, true);
  });

  it('one client cold: MB/s over all layers and median time to first byte, each against the upstream read directly', () => {
    const f = (mbPerSec: number, ttfbMs: number) => [{ bytes: 100 * MB, ms: 100_000 / mbPerSec, ttfbMs }, { bytes: 100 * MB, ms: 100_000 / mbPerSec, ttfbMs: ttfbMs * 3 }, { bytes: 100 * MB, ms: 100_000 / mbPerSec, ttfbMs }];
    const rows = buildRows({ ...results(), coldSingle: { direct: f(800, 4), regway: f(560, 5), 'distribution-proxy': f(300, 9) } });
    const mbs = rows.find((r) => r.scenario.startsWith('one client, cold miss ('))!;
    const ttfb = rows.find((r) => r.scenario.includes('first byte'))!;
    assert.ok(Math.abs(mbs.regway! - 560) < 1e-6 && Math.abs(mbs.nginx! - 800) < 1e-6 && Math.abs(mbs.distribution! - 300) < 1e-6, JSON.stringify(mbs));
    assert.ok(Math.abs(mbs.ratio! - 0.7) < 1e-9, 'regway / direct');
    assert.equal(mbs.met, true);
    assert.equal(ttfb.regway, 5, 'the median, not the mean');
    assert.equal(ttfb.ratio, 1.25);
    assert.equal(ttfb.met, true);
    const slow = buildRows({ ...results(), coldSingle: { direct: f(800, 4), regway: f(400, 8) } });
    assert.equal(slow.find((r) => r.scenario.startsWith('one client, cold miss ('))!.met, false, '50 % of direct misses the 60 % target');
    assert.equal(slow.find((r) => r.scenario.includes('first byte'))!.met, false, '2x the direct TTFB misses the 1.5x target');
    assert.equal(buildRows(results()).filter((r) => r.scenario.startsWith('one client')).length, 0, 'no rows when the scenario did not run');
  });

  it('fails amplification above 1.00x, blobs under 80% of nginx and RSS at 200 MB', () => {
    const rows = buildRows(results({ regwayAmpBytes: 101 * MB, blobRegway: 799 * MB, rss: 200 * MB }));
    assert.deepEqual(rows.filter((r) => r.met === false).map((r) => r.scenario.split(':')[0]!.split(' (')[0]),
      ['cold pull, 10 concurrent clients', 'warm manifest by digest', 'warm blob throughput', 'peak RSS while serving']);
    // 1.004x prints as 1.00x and passes; the comparison is at the printed precision.
    assert.equal(buildRows(results({ regwayAmpBytes: 100.4 * MB }))[0]!.met, true);
  });

  it('cold pull: regway errors fail its row, distribution errors are only reported', () => {
    const r = results();
    r.cold.distribution.clientErrors = ['GET blob sha256:aa: HTTP 500'];
    const peerErr = buildRows(r)[0]!;
    assert.equal(peerErr.met, true);
    assert.match(peerErr.note!, /distribution: 1 failed blob downloads retried \(GET blob sha256:aa: HTTP 500\)/);
    r.cold.regway.clientErrors = ['GET blob sha256:bb: HTTP 502'];
    assert.equal(buildRows(r)[0]!.met, false);
  });

  it('a run with error responses never passes, whatever its rate', () => {
    const rows = buildRows(results({ manifestRegway: load(50_000, 0, { non2xx: 3 }) }));
    const tag = rows.find((r) => r.scenario.includes('by tag'))!;
    assert.equal(tag.met, false);
    assert.match(tag.note!, /regway: 3 non-2xx/);
    assert.match(formatText(rows), /note \(warm manifest by tag\): regway: 3 non-2xx/);
  });

  it('ratio() refuses division by zero and missing values', () => {
    assert.equal(ratio(1, 0), undefined);
    assert.equal(ratio(undefined, 2), undefined);
    assert.equal(ratio(3, 2), 1.5);
  });

  it('prints aligned text and a markdown table with escaped cells', () => {
    const rows = buildRows(results());
    const text = formatText(rows).split('\n');
    assert.equal(text.length, rows.length + 2);
    assert.match(text[0]!, /^scenario\s+unit\s+regway\s+distribution-proxy\s+nginx or limit\s+ratio\s+target\s+met\?$/);
    const md = formatMarkdown(rows).split('\n');
    assert.equal(md[0], '| scenario | unit | regway | distribution-proxy | nginx or limit | ratio | target | met? |');
    assert.ok(md.some((l) => l.includes('| 50.00x (regway/distribution) | >= 10x | yes |')), md.join('\n'));
  });

  it('replaces only the generated block of the doc, or appends one', () => {
    const doc = '# T\nintro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nmethod\n';
    assert.equal(spliceGenerated(doc, 'new'), '# T\nintro\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nmethod\n');
    assert.equal(spliceGenerated('# T\n', 'new'), '# T\n\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\n');
  });
});

describe('inputs', () => {
  it('sums upstream blob GET bytes of one repository from its access log', () => {
    const l = (method: string, path: string, bytes: number): AccessLine => ({ remote: '', time: '', method, path, uri: path, status: 200, bytes, userAgent: '' });
    const t = upstreamTraffic([
      l('GET', '/v2/bench/app/blobs/sha256:aa', 10), l('GET', '/v2/bench/app/blobs/sha256:bb', 5), l('HEAD', '/v2/bench/app/blobs/sha256:aa', 0),
      l('GET', '/v2/bench/app/manifests/v1', 900), l('GET', '/v2/other/blobs/sha256:aa', 77), l('GET', '/v2/', 2),
    ], 'bench/app');
    assert.deepEqual(t, { blobBytes: 15, blobGets: 2, manifestGets: 1 });
  });

  it('adds interleaved rounds: totals over total time, median p50, worst p99', () => {
    const r = (requests: number, durationSec: number, p50: number, p99: number) => ({ ...load(0), requests, bytes: requests * 10, durationSec, latencyP50Ms: p50, latencyP99Ms: p99 });
    const c = combine([r(100, 1, 2, 9), r(300, 2, 1, 30), r(200, 1, 5, 10)]);
    assert.equal(c.requests, 600);
    assert.equal(c.durationSec, 4);
    assert.equal(c.requestsPerSec, 150);
    assert.equal(c.bytesPerSec, 1500);
    assert.equal(c.latencyP50Ms, 2);
    assert.equal(c.latencyP99Ms, 30);
  });

  it('reads utime + stime from /proc/<pid>/stat, even with spaces in the command name', () => {
    const stat = '20919 (my (odd) cmd) R 20466 20466 21364 0 -1 4194304 99 0 0 0 7 5 0 0 20 0 1 0 262729 3133440 385';
    assert.equal(parseStatTicks(stat), 12);
  });

  it('reads VmRSS and VmHWM in bytes', () => {
    const s = 'Name:\tnode\nVmHWM:\t  183456 kB\nVmRSS:\t  120000 kB\n';
    assert.equal(parseStatusField(s, 'VmHWM'), 183456 * 1024);
    assert.equal(parseStatusField(s, 'VmRSS'), 120000 * 1024);
    assert.equal(parseStatusField('Name:\tx\n', 'VmRSS'), undefined);
  });

  it('options: flags override env, env overrides defaults, bad values are refused', () => {
    const d = parseOptions([], {});
    assert.equal(d.layers, 5);
    assert.equal(d.layerSize, 20e6);
    assert.equal(d.clients, 10);
    assert.equal(d.writeDocs, true);
    const o = parseOptions(['--layers', '2', '--no-docs', '--warmup', '0'], { BENCH_LAYERS: '9', BENCH_CLIENTS: '4' });
    assert.equal(o.layers, 2);
    assert.equal(o.clients, 4);
    assert.equal(o.warmupSec, 0);
    assert.equal(o.writeDocs, false);
    assert.throws(() => parseOptions(['--clients', 'ten'], {}), /--clients must be a positive number/);
    assert.throws(() => parseOptions(['--bogus'], {}), /Unknown option/);
  });

  it('big layer: off unless asked for; --big-layer-only runs it at 2 GB and leaves the docs alone', () => {
    assert.equal(parseOptions([], {}).bigLayerMb, 0);
    const only = parseOptions(['--big-layer-only'], {});
    assert.deepEqual([only.bigLayerMb, only.bigLayerClients, only.writeDocs], [2048, 5, false]);
    assert.equal(parseOptions(['--big-layer-mb', '512'], { BENCH_BIG_LAYER_CLIENTS: '3' }).bigLayerClients, 3);
  });

  it('big layer rows: one upstream copy and RSS under the limit pass; a short client read fails both', () => {
    const rss = { peakRssBytes: 150 * MB, hwmBytes: 170 * MB, samples: 10 };
    const ok = bigLayerRows({ layerBytes: 2048 * MB, clients: 5, wallMs: 30_000, upstreamBlobBytes: 2048 * MB, clientBytes: 5 * 2048 * MB, rss });
    assert.deepEqual(ok.map((r) => r.met), [true, true, undefined]);
    assert.equal(ok[1]!.regway, 170, 'the peak is the larger of the samples and VmHWM');
    const twice = bigLayerRows({ layerBytes: 2048 * MB, clients: 5, wallMs: 30_000, upstreamBlobBytes: 2 * 2048 * MB, clientBytes: 5 * 2048 * MB, rss });
    assert.equal(twice[0]!.met, false);
    const short = bigLayerRows({ layerBytes: 2048 * MB, clients: 5, wallMs: 30_000, upstreamBlobBytes: 2048 * MB, clientBytes: 4 * 2048 * MB, rss });
    assert.deepEqual(short.map((r) => r.met), [false, false, undefined]);
    assert.deepEqual(bigLayerRows(undefined), []);
  });
});
