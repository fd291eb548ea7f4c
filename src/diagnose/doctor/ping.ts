// Stage 5: GET /v2/, the API version check every client does first. Its answer also carries the auth challenge.
import { baseUrl, type DoctorContext } from './context.js';
import { finding } from './findings.js';
import { header, rawRequest, type RawResponse } from './http.js';
import { errorText, isTimeout } from '../common/http.js';
import type { Finding } from './types.js';

/** What the ping answered, kept for the challenge check. */
export const pingResponses = new WeakMap<DoctorContext, RawResponse>();

export async function checkPing(ctx: DoctorContext): Promise<Finding[]> {
  const url = new URL('v2/', baseUrl(ctx));
  const t0 = performance.now();
  let r: RawResponse;
  try {
    r = await rawRequest(ctx, url, { cap: 4096 });
  } catch (e) {
    ctx.stop = true;
    const ms = performance.now() - t0;
    if (isTimeout(e)) return [finding('PING_TIMEOUT', 'ping', `GET ${url.href}: no response within ${ctx.opts.timeoutMs} ms (${errorText(e)})`, { durationMs: ms })];
    return [finding('TCP_FAILED', 'ping', `GET ${url.href}: ${errorText(e)}`, { durationMs: ms })];
  }
  pingResponses.set(ctx, r);
  ctx.pingStatus = r.status;
  const api = header(r.headers, 'docker-distribution-api-version');
  const server = header(r.headers, 'server');
  const data = { status: r.status, apiVersion: api, server, url: url.href };
  if (r.status === 200 || r.status === 401) {
    return [finding('PING_OK', 'ping', `GET ${url.href} answered ${r.status}${api ? ` (${api})` : ''}${r.status === 401 ? ': authentication required' : ''}`, { durationMs: r.ms, data })];
  }
  ctx.stop = true;
  const snippet = r.body.toString('utf8').replace(/\s+/g, ' ').slice(0, 120);
  if (r.status >= 500) return [finding('PING_SERVER_ERROR', 'ping', `GET ${url.href} answered ${r.status}${server ? ` from ${server}` : ''}: ${snippet}`, { durationMs: r.ms, data })];
  return [
    finding('PING_NOT_REGISTRY', 'ping', `GET ${url.href} answered ${r.status}${server ? ` from ${server}` : ''}${api ? '' : ' without Docker-Distribution-API-Version'}: ${snippet}`, {
      durationMs: r.ms,
      data,
    }),
  ];
}
