// Runs wrk (HTTP/1.1 load generator) and turns its output into numbers. wrk reads every response
// body in full (its HTTP parser must reach the end of a message before the next request on that
// connection), so bytes/s with large bodies is real download throughput, not header rate.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What one wrk run measured. Counts are for the whole run, across all connections. */
export interface LoadResult {
  requests: number;
  /** Bytes read from the sockets (headers + bodies). */
  bytes: number;
  durationSec: number;
  requestsPerSec: number;
  bytesPerSec: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
}

/**
 * wrk's text summary is rounded ("1.23GB read", "Requests/sec: 812.34"); this Lua hook prints the
 * exact counters from its `done` callback as one JSON line, which the parser prefers.
 */
export const WRK_SUMMARY_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"bytes":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4 };

function scaled(num: string, unit: string): number {
  const f = UNITS[unit.toUpperCase()];
  if (f === undefined) throw new Error(`unknown wrk unit ${JSON.stringify(unit)}`);
  return Number(num) * f;
}

/** wrk time units: us, ms, s, m, h. */
function toMs(num: string, unit: string): number {
  const f: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return Number(num) * (f[unit] ?? NaN);
}

function fromJsonLine(line: string): LoadResult {
  const j = JSON.parse(line) as Record<string, number>;
  const durationSec = j.duration_us! / 1e6;
  if (!(durationSec > 0)) throw new Error(`wrk reported a zero duration: ${line}`);
  return {
    requests: j.requests!,
    bytes: j.bytes!,
    durationSec,
    requestsPerSec: j.requests! / durationSec,
    bytesPerSec: j.bytes! / durationSec,
    non2xx: j.status!,
    socketErrors: j.connect! + j.read! + j.write! + j.timeout!,
    latencyP50Ms: j.p50_us! / 1000,
    latencyP99Ms: j.p99_us! / 1000,
  };
}

/**
 * Parses wrk's stdout. Uses the exact WRK_JSON line when the summary script ran, else the rounded
 * text summary ("N requests in 10.00s, 1.2GB read", "Non-2xx or 3xx responses", "Socket errors").
 * Throws when neither is present: a run that printed nothing useful must never become a number.
 */
export function parseWrkOutput(out: string): LoadResult {
  const json = /^WRK_JSON (\{.*\})\s*$/m.exec(out);
  if (json) return fromJsonLine(json[1]!);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?B) read/.exec(out);
  if (!total) throw new Error(`cannot parse wrk output:\n${out.slice(0, 2000)}`);
  const requests = Number(total[1]);
  const durationSec = toMs(total[2]!, total[3]!) / 1000;
  const bytes = scaled(total[4]!, total[5]!);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se ? se.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  // The text form only has the average latency, not percentiles: those stay unset.
  return { requests, bytes, durationSec, requestsPerSec: requests / durationSec, bytesPerSec: bytes / durationSec, non2xx, socketErrors };
}

export interface WrkOptions {
  url: string;
  durationSec: number;
  connections: number;
  threads: number;
  headers?: Record<string, string>;
  /** Per-request timeout; wrk's 2 s default would count a slow 20 MB body as an error. */
  timeoutSec?: number;
}

/** The argument vector for one run (pure, so the tests can check it). */
export function wrkArgs(o: WrkOptions, scriptPath: string): string[] {
  const args = ['-t', String(Math.min(o.threads, o.connections)), '-c', String(o.connections), '-d', `${o.durationSec}s`,
    '--timeout', `${o.timeoutSec ?? 30}s`, '-s', scriptPath, '--latency'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return args;
}

/** Runs wrk to completion and parses its output; rejects when wrk fails or prints no summary. */
export async function runWrk(o: WrkOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'regway-bench-wrk-'));
  const script = join(dir, 'summary.lua');
  writeFileSync(script, WRK_SUMMARY_LUA);
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('wrk', wrkArgs(o, script), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout, stderr }));
    });
    if (code !== 0) throw new Error(`wrk exited ${code}: ${stderr}${stdout}`);
    return parseWrkOutput(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
