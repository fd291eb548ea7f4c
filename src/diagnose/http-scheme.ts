// Stage 4: does the port speak the protocol the client will use? The two classic mistakes: a plain-HTTP registry
// addressed as HTTPS ("server gave HTTP response to HTTPS client") and an HTTPS one addressed with http://.
import { request } from 'node:http';
import type { DoctorContext } from './context.js';
import { hostOf } from './dns.js';
import { finding } from './findings.js';
import { endpointPort } from './target.js';
import { checkTls } from './tls.js';
import type { Finding } from './types.js';

/** One plain-HTTP GET; resolves with status and the start of the body, rejects on socket errors. */
export function plainGet(host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string; server?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': 'regway-doctor/0.1' } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { if (body.length < 4096) body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.server ? { server: String(res.headers.server) } : {}) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

const TLS_PORT_ANSWER = /HTTPS|TLS|SSL/i;

export async function checkScheme(ctx: DoctorContext): Promise<Finding[]> {
  const host = ctx.addresses[0] ?? hostOf(ctx.target.endpoint);
  const port = endpointPort(ctx.target.endpoint);
  const where = `${ctx.target.endpoint.host}`;
  const t0 = performance.now();
  if (ctx.scheme === 'https') {
    if (!ctx.tlsFailedRaw) return [];
    try {
      const r = await plainGet(host, port, '/v2/', ctx.opts.timeoutMs);
      ctx.scheme = 'http';
      const sev = ctx.opts.insecure ? 'warn' : 'error';
      return [finding('SCHEME_HTTP_ONLY', 'http-scheme', `${where} answered plain HTTP (${r.status}) after the TLS handshake failed (${ctx.tlsFailedRaw}); the remaining checks use http://`, { severity: sev, durationMs: performance.now() - t0, data: { status: r.status, tlsError: ctx.tlsFailedRaw } })];
    } catch {
      ctx.stop = true;
      return [finding('TLS_HANDSHAKE_FAILED', 'tls', `${where}: ${ctx.tlsFailedRaw}; plain HTTP gets no answer either`, { durationMs: performance.now() - t0, data: { error: ctx.tlsFailedRaw } })];
    }
  }
  let tlsSuspected = false;
  let status: number | undefined;
  try {
    const r = await plainGet(host, port, '/v2/', ctx.opts.timeoutMs);
    status = r.status;
    tlsSuspected = r.status === 400 && TLS_PORT_ANSWER.test(r.body);
  } catch (e) {
    // A TLS server may also just drop a request it cannot parse; only a successful handshake confirms it below.
    tlsSuspected = (e as NodeJS.ErrnoException).code !== 'ETIMEDOUT';
  }
  if (!tlsSuspected) return [];
  ctx.scheme = 'https';
  const tls = await checkTls(ctx);
  if (ctx.tlsFailedRaw) { ctx.scheme = 'http'; return []; }
  return [finding('SCHEME_HTTPS_ONLY', 'http-scheme', `${where} was addressed with http:// but expects TLS${status ? ` (plain request answered ${status})` : ''}; the remaining checks use https://`, { durationMs: performance.now() - t0, data: { status } }), ...tls];
}
