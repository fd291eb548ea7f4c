// Stage 10: download a sample of the largest layer and time it: time to first byte, throughput, and what that
// means for the whole image. The sample ends at --sample-bytes or at the timeout, whichever comes first.
import { drain } from '../../client/upstream-client.js';
import { baseUrl, type DoctorContext } from './context.js';
import { finding } from './findings.js';
import { errorText, fmtBytes } from '../common/http.js';
import { blobRefusal } from '../images/image-client.js';
import { imageClient } from './manifest.js';
import type { Finding } from './types.js';
import { followRedirect } from './redirect.js';

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
  /** Where the bytes came from: the registry, or a redirect target (its finding says how it answered). */
  source: 'registry' | 'redirect';
  redirect?: Finding;
}

const REDIRECTS = [301, 302, 303, 307, 308];

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
  const range = `bytes=0-${limit - 1}`;
  let source: SampleResult['source'] = 'registry';
  let redirect: Finding | undefined;
  try {
    // Redirects are followed here, not by the client: the report says where the bytes come from.
    let res: { status: number; headers: Record<string, unknown>; body: unknown } = await imageClient(ctx).blob(ctx.target.image!.name, digest, { range }, 'GET', false);
    const location = REDIRECTS.includes(res.status) ? res.headers.location : undefined;
    if (typeof location === 'string') {
      await drain(res as Parameters<typeof drain>[0]);
      const hint = res.headers['x-regway-redirect'];
      const followed = await followRedirect(ctx, new URL(location, baseUrl(ctx)), range, typeof hint === 'string' ? hint : undefined);
      [source, redirect] = ['redirect', followed.finding];
      if (!followed.res) return { status: 0, bytes: 0, ttfbMs: performance.now() - t0, totalMs: performance.now() - t0, timedOut: false, source, redirect };
      res = { status: followed.res.statusCode, headers: followed.res.headers, body: followed.res.body };
    }
    const ttfbMs = performance.now() - t0;
    if (res.status !== 200 && res.status !== 206) {
      const refusal = res.status >= 400 ? await blobRefusal(res as Parameters<typeof blobRefusal>[0], ctx.target.registry) : (await drain(res as Parameters<typeof drain>[0]), undefined);
      return { status: res.status, bytes: 0, ttfbMs, totalMs: ttfbMs, timedOut: false, source, ...(refusal ? { refusal } : {}) };
    }
    const r = await readSample(res.body as AsyncIterable<unknown> & { destroy(): void }, limit, deadline);
    return { status: res.status, bytes: r.bytes, ttfbMs, totalMs: performance.now() - t0, timedOut: r.timedOut, source, ...(redirect ? { redirect } : {}) };
  } catch (e) {
    const totalMs = performance.now() - t0;
    return { status: 0, bytes: 0, ttfbMs: totalMs, totalMs, timedOut: /TIMEOUT/.test(errorText(e)), error: errorText(e), source };
  }
}

export async function checkBlob(ctx: DoctorContext): Promise<Finding[]> {
  const m = ctx.image?.manifest;
  if (!m) return [];
  const layer = [...m.layers].sort((a, b) => b.size - a.size)[0] ?? m.config;
  if (!layer) return [];
  const limit = Math.max(1, Math.min(ctx.opts.sampleBytes, layer.size));
  const r = await sampleBlob(ctx, layer.digest, limit);
  // A redirect target that does not serve the blob is the finding; the sample has nothing to add.
  if (r.redirect && r.redirect.code !== 'BLOB_REDIRECT_OK') return [r.redirect];
  const from: Record<string, unknown> = r.redirect ? { ...(r.redirect.data ?? {}) } : { source: 'registry' };
  const out = (fs: Finding[]) => (r.redirect ? [r.redirect, ...fs] : fs);
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
    from,
  };
  const speed = `${fmtBytes(rate)}/s`;
  if (r.error && !r.timedOut) return out([finding('BLOB_FAILED', STAGE, `${layer.digest}: ${r.error}`, { durationMs: r.totalMs, data })]);
  if (r.status !== 200 && r.status !== 206 && !r.timedOut) {
    const missing = r.status === 404 ? 'the manifest names a blob the registry does not have' : '';
    const why = r.refusal ? `: ${r.refusal}${missing ? ` (${missing})` : ''}` : missing ? ` (BLOB_UNKNOWN: ${missing})` : '';
    return out([finding('BLOB_FAILED', STAGE, `GET blob ${layer.digest} answered ${r.status}${why}`, { durationMs: r.totalMs, data })]);
  }
  if (r.timedOut) {
    return out([
      finding(
        'BLOB_TIMEOUT',
        STAGE,
        `only ${fmtBytes(r.bytes)} of a ${fmtBytes(limit)} sample arrived in ${(r.totalMs / 1000).toFixed(1)} s (${speed}); at this rate the image's ${fmtBytes(total)} take ${Number.isFinite(eta) ? `${Math.round(eta)} s` : 'forever'}`,
        { durationMs: r.totalMs, data },
      ),
    ]);
  }
  const where = r.redirect ? `from ${String(from.host)} (redirected)` : 'from the registry itself';
  const what = `${fmtBytes(r.bytes)} of ${layer.digest.slice(0, 19)} ${where} in ${(r.totalMs / 1000).toFixed(2)} s (first byte after ${r.ttfbMs.toFixed(0)} ms): ${speed}; the image's ${fmtBytes(total)} would take ~${Math.max(1, Math.round(eta))} s`;
  // A small sample that came in a few chunks says little about speed; only a real stretch of body is judged.
  const judged = r.bytes >= MIN_JUDGED_BYTES || r.totalMs - r.ttfbMs > 1000;
  if (judged && rate < SLOW_BYTES_PER_SEC) return out([finding('BLOB_SLOW', STAGE, what, { durationMs: r.totalMs, data })]);
  return out([finding('BLOB_OK', STAGE, what, { durationMs: r.totalMs, data })]);
}
