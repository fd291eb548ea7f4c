// Where blob bytes really come from (docs/redirects.md): the registry itself, or a 307 to object
// storage (a presigned URL) or a CDN. The blob check follows the redirect itself, without
// credentials like every client, and this module judges the target's answer. Pure, except `followRedirect`.
import { request } from 'undici';
import { errorText } from '../common/http.js';
import type { DoctorContext } from './context.js';
import { finding } from './findings.js';
import { DOCTOR_AGENT, foreignAgent } from './http.js';
import type { Finding } from './types.js';

const STAGE = 'blob';
/** Clocks further apart than this are reported as skew (a request's own travel time is far below it). */
export const SKEW_TOLERANCE_MS = 60_000;

export type RedirectKind = 'presigned' | 'cdn' | 'unknown';

/** What a redirect URL says about its validity: when it was signed and until when it is valid (ms since the epoch). */
export interface SignedWindow {
  kind: RedirectKind;
  signedAtMs?: number;
  expiresAtMs?: number;
}

/** 20261203T170334Z -> ms; undefined when malformed. */
function amzDate(v: string | null): number | undefined {
  const m = v ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v) : null;
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
}

/**
 * Reads the validity a redirect URL carries: SigV4 presigned (X-Amz-Date + X-Amz-Expires), or a
 * signed CDN URL (regway's `expires`, Unix seconds, or CloudFront's `Expires`).
 */
export function signedWindow(url: URL, hint?: string): SignedWindow {
  const q = url.searchParams;
  const signed = amzDate(q.get('X-Amz-Date'));
  if (signed !== undefined) {
    const secs = Number(q.get('X-Amz-Expires'));
    return { kind: 'presigned', signedAtMs: signed, ...(Number.isFinite(secs) && secs > 0 ? { expiresAtMs: signed + secs * 1000 } : {}) };
  }
  const exp = Number(q.get('expires') ?? q.get('Expires'));
  if (Number.isInteger(exp) && exp > 0) return { kind: 'cdn', expiresAtMs: exp * 1000 };
  return { kind: hint === 'presigned' || hint === 'cdn' ? hint : 'unknown' };
}

/** The redirect target's answer to the doctor's GET (or the error that stopped it). */
export interface TargetAnswer {
  status?: number;
  date?: string;
  error?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const secs = (ms: number) => `${Math.round(Math.abs(ms) / 1000)} s`;

function describe(kind: RedirectKind, url: URL): string {
  const what = kind === 'presigned' ? 'a presigned object-storage URL' : kind === 'cdn' ? 'a signed CDN URL' : 'another URL';
  return `307 to ${url.host} (${what})`;
}

/**
 * Judges a refused redirect (401/403): a clock problem when the target's Date is outside the URL's
 * window; told apart by whose clock is off. `now` is this node's clock when the answer came.
 */
function refused(url: URL, w: SignedWindow, a: TargetAnswer, now: number, data: Record<string, unknown>): Finding {
  const head = `${describe(w.kind, url)} answered ${a.status}`;
  const served = a.date ? Date.parse(a.date) : NaN;
  const skew = Number.isFinite(served) ? served - now : undefined;
  const window = `${w.signedAtMs !== undefined ? `signed at ${iso(w.signedAtMs)}, ` : ''}${w.expiresAtMs !== undefined ? `valid until ${iso(w.expiresAtMs)}` : 'no expiry in the URL'}`;
  const d = { ...data, targetDate: a.date, skewMs: skew, ...w };
  if (skew !== undefined && Math.abs(skew) > SKEW_TOLERANCE_MS) {
    return finding('BLOB_REDIRECT_CLOCK_SKEW', STAGE, `${head}: its clock (Date: ${a.date}) is ${secs(skew)} ${skew > 0 ? 'ahead of' : 'behind'} this node's; the URL is ${window}`, { data: d });
  }
  const at = Number.isFinite(served) ? served : now;
  if (w.expiresAtMs !== undefined && at > w.expiresAtMs) {
    return finding(
      'BLOB_REDIRECT_EXPIRED',
      STAGE,
      `${head}: the URL is ${window}, already ${secs(at - w.expiresAtMs)} past when used, while this node and ${url.host} agree on the time: the gateway's clock is behind, or redirect.expiry is too short`,
      { data: d },
    );
  }
  if (w.signedAtMs !== undefined && w.signedAtMs - at > SKEW_TOLERANCE_MS) {
    return finding('BLOB_REDIRECT_EXPIRED', STAGE, `${head}: the URL was signed ${secs(w.signedAtMs - at)} in the future (${window}): the gateway's clock is ahead`, { data: d });
  }
  return finding('BLOB_REDIRECT_DENIED', STAGE, `${head} although the URL is in time (${window}) and the clocks agree`, { data: d });
}

/** The finding for a blob redirect and its target's answer (a 2xx is the ok case: the bytes come from there). */
export function judgeRedirect(location: URL, a: TargetAnswer, now: number, hint?: string): Finding {
  const w = signedWindow(location, hint);
  const data = { source: 'redirect', host: location.host, kind: w.kind, status: a.status };
  if (a.error !== undefined) return finding('BLOB_REDIRECT_UNREACHABLE', STAGE, `${describe(w.kind, location)}, which this node cannot reach: ${a.error}`, { data: { ...data, error: a.error } });
  if (a.status === 401 || a.status === 403) return refused(location, w, a, now, data);
  if (a.status === 200 || a.status === 206)
    return finding('BLOB_REDIRECT_OK', STAGE, `blob bytes come from ${location.host}, not from the registry: ${describe(w.kind, location)} answered ${a.status}`, { data });
  return finding('BLOB_REDIRECT_FAILED', STAGE, `${describe(w.kind, location)} answered ${a.status}`, { data });
}

export interface FollowedRedirect {
  finding: Finding;
  /** The target's answer when it serves the blob: the sample is read from it. */
  res?: Awaited<ReturnType<typeof request>>;
}

/** GETs a redirect target as a client does: no credentials, the same Range, verified TLS. */
export async function followRedirect(ctx: DoctorContext, location: URL, range: string, hint?: string): Promise<FollowedRedirect> {
  try {
    const res = await request(location, { headers: { 'user-agent': DOCTOR_AGENT, range }, dispatcher: foreignAgent(ctx) });
    const date = res.headers.date;
    const f = judgeRedirect(location, { status: res.statusCode, ...(typeof date === 'string' ? { date } : {}) }, Date.now(), hint);
    if (f.code === 'BLOB_REDIRECT_OK') return { finding: f, res };
    await res.body.dump().catch(() => undefined);
    return { finding: f };
  } catch (e) {
    return { finding: judgeRedirect(location, { error: errorText(e) }, Date.now(), hint) };
  }
}
