// Stage 10: download a sample of the largest layer and time it: time to first byte, throughput, and what that
// means for the whole image. The sample ends at --sample-bytes or at the timeout, whichever comes first.
import { drain } from '../../client/upstream-client.js';
import type { DoctorContext } from './context.js';
import { finding } from './findings.js';
import { errorText, fmtBytes } from '../common/http.js';
import { blobRefusal } from '../images/image-client.js';
import { imageClient } from './manifest.js';
import type { Finding } from './types.js';

const STAGE = 'blob';
/** Below this a pull of a few hundred MB takes minutes: worth a warning. */
const SLOW_BYTES_PER_SEC = 1024 * 1024;
const MIN_JUDGED_BYTES = 256 * 1024;

interface SampleResult {
  status: number;
  bytes: number;
  ttfbMs: number;
  totalMs: number;
  timedOut: boolean;
  error?: string;
  refusal?: string;
}

/** Reads up to `limit` bytes of a response body, stopping at `deadline` (performance.now() time). */
async function readSample(body: AsyncIterable<unknown> & { destroy(): void }, limit: number, deadline: number): Promise<{ bytes: number; timedOut: boolean }> {
  let bytes = 0;
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) {
      body.destroy();
      return { bytes, timedOut: true };
    }
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), left);
      }),
    ]).finally(() => clearTimeout(timer));
    if (next === 'timeout') {
      body.destroy();
      return { bytes, timedOut: true };
    }
    if (next.done) return { bytes, timedOut: false };
    bytes += (next.value as Buffer).length;
    if (bytes >= limit) {
      body.destroy();
      return { bytes, timedOut: false };
    }
  }
}

async function sampleBlob(ctx: DoctorContext, digest: string, limit: number): Promise<SampleResult> {
  const t0 = performance.now();
  const deadline = t0 + ctx.opts.timeoutMs;
  try {
    const res = await imageClient(ctx).blob(ctx.target.image!.name, digest, { range: `bytes=0-${limit - 1}` });
    const ttfbMs = performance.now() - t0;
    if (res.status !== 200 && res.status !== 206) {
      const refusal = res.status >= 400 ? await blobRefusal(res, ctx.target.registry) : (await drain(res), undefined);
      return { status: res.status, bytes: 0, ttfbMs, totalMs: ttfbMs, timedOut: false, ...(refusal ? { refusal } : {}) };
    }
    const r = await readSample(res.body as unknown as AsyncIterable<unknown> & { destroy(): void }, limit, deadline);
    return { status: res.status, bytes: r.bytes, ttfbMs, totalMs: performance.now() - t0, timedOut: r.timedOut };
  } catch (e) {
    const totalMs = performance.now() - t0;
    return { status: 0, bytes: 0, ttfbMs: totalMs, totalMs, timedOut: /TIMEOUT/.test(errorText(e)), error: errorText(e) };
  }
}

export async function checkBlob(ctx: DoctorContext): Promise<Finding[]> {
  const m = ctx.image?.manifest;
  if (!m) return [];
  const layer = [...m.layers].sort((a, b) => b.size - a.size)[0] ?? m.config;
  if (!layer) return [];
  const limit = Math.max(1, Math.min(ctx.opts.sampleBytes, layer.size));
  const r = await sampleBlob(ctx, layer.digest, limit);
  // Throughput over the body only: the first byte's wait (a token, a cold cache upstream) is reported apart.
  const rate = r.bytes / Math.max((r.totalMs - r.ttfbMs) / 1000, 1e-3);
  const total = ctx.image!.totalBytes;
  const eta = rate > 0 ? r.ttfbMs / 1000 + total / rate : Infinity;
  const data = {
    digest: layer.digest,
    layerSize: layer.size,
    sampleBytes: r.bytes,
    status: r.status,
    ttfbMs: Math.round(r.ttfbMs),
    bytesPerSecond: Math.round(rate),
    imageBytes: total,
    etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null,
  };
  const speed = `${fmtBytes(rate)}/s`;
  if (r.error && !r.timedOut) return [finding('BLOB_FAILED', STAGE, `${layer.digest}: ${r.error}`, { durationMs: r.totalMs, data })];
  if (r.status !== 200 && r.status !== 206 && !r.timedOut) {
    const missing = r.status === 404 ? 'the manifest names a blob the registry does not have' : '';
    const why = r.refusal ? `: ${r.refusal}${missing ? ` (${missing})` : ''}` : missing ? ` (BLOB_UNKNOWN: ${missing})` : '';
    return [finding('BLOB_FAILED', STAGE, `GET blob ${layer.digest} answered ${r.status}${why}`, { durationMs: r.totalMs, data })];
  }
  if (r.timedOut) {
    return [
      finding(
        'BLOB_TIMEOUT',
        STAGE,
        `only ${fmtBytes(r.bytes)} of a ${fmtBytes(limit)} sample arrived in ${(r.totalMs / 1000).toFixed(1)} s (${speed}); at this rate the image's ${fmtBytes(total)} take ${Number.isFinite(eta) ? `${Math.round(eta)} s` : 'forever'}`,
        { durationMs: r.totalMs, data },
      ),
    ];
  }
  const what = `${fmtBytes(r.bytes)} of ${layer.digest.slice(0, 19)} in ${(r.totalMs / 1000).toFixed(2)} s (first byte after ${r.ttfbMs.toFixed(0)} ms): ${speed}; the image's ${fmtBytes(total)} would take ~${Math.max(1, Math.round(eta))} s`;
  // A small sample that came in a few chunks says little about speed; only a real stretch of body is judged.
  const judged = r.bytes >= MIN_JUDGED_BYTES || r.totalMs - r.ttfbMs > 1000;
  if (judged && rate < SLOW_BYTES_PER_SEC) return [finding('BLOB_SLOW', STAGE, what, { durationMs: r.totalMs, data })];
  return [finding('BLOB_OK', STAGE, what, { durationMs: r.totalMs, data })];
}
