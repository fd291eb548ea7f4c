// Stage 4: does the port speak the protocol the client will use? The two classic mistakes: a plain-HTTP registry
// addressed as HTTPS ("server gave HTTP response to HTTPS client") and an HTTPS one addressed with http://.
import { request } from 'node:http';
import { isIP } from 'node:net';
import type { DoctorContext } from './context.js';
import { hostOf } from './dns.js';
import { finding } from './findings.js';
import { DOCTOR_AGENT } from './http.js';
import { endpointPort } from '../common/target.js';
import { checkTls } from './tls.js';
import type { Finding } from './types.js';

/** One plain-HTTP GET; resolves with status and the start of the body, rejects on socket errors. */
function plainGet(host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string; server?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { 'user-agent': DOCTOR_AGENT } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.server ? { server: String(res.headers.server) } : {}) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

const TLS_PORT_ANSWER = /HTTPS|TLS|SSL/i;

/** Loopback: dockerd and containerd use plain HTTP there by themselves. */
function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * How bad plain HTTP is here. With --insecure the operator declared a lab registry plain HTTP on
 * purpose: that is information, not a failure (a CI gate on a lab must pass). On loopback dockerd
 * and containerd already use http, only podman/skopeo/CRI-O need telling: a warning. Anywhere else,
 * every client fails until it is configured: an error. Pure.
 */
function httpOnlySeverity(host: string, insecure: boolean): 'info' | 'warn' | 'error' {
  return insecure ? 'info' : isLoopbackHost(host) ? 'warn' : 'error';
}

/** The exact declarative-file entry that makes every runtime use plain HTTP for this registry. */
function httpOnlyFix(registry: string, hostPort: string): string {
  return (
    `Serve TLS, or for a lab declare it plain HTTP in regway config's file: \`- host: ${registry}\` with \`server: http://${hostPort}\` and \`insecure: true\`; ` +
    `\`regway config apply\` then writes containerd's hosts.toml (server and [host."http://${hostPort}"]), registries.conf \`insecure = true\` and dockerd's "insecure-registries". ` +
    'Check a lab on purpose with `regway doctor --insecure` (then this is information, exit 0).'
  );
}

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
      const sev = httpOnlySeverity(hostOf(ctx.target.endpoint), !!ctx.opts.insecure);
      const why =
        sev === 'info'
          ? 'accepted: --insecure says it is plain HTTP on purpose'
          : sev === 'warn'
            ? 'on loopback dockerd and containerd use http by themselves; podman, skopeo and CRI-O need insecure = true (or --tls-verify=false)'
            : 'every client needs to be told (insecure-registries, insecure = true, an http:// host in hosts.toml)';
      return [
        finding('SCHEME_HTTP_ONLY', 'http-scheme', `${where} answered plain HTTP (${r.status}) after the TLS handshake failed (${ctx.tlsFailedRaw}): ${why}; the remaining checks use http://`, {
          severity: sev,
          fix: httpOnlyFix(ctx.target.registry, where),
          durationMs: performance.now() - t0,
          data: { status: r.status, tlsError: ctx.tlsFailedRaw },
        }),
      ];
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
  if (ctx.tlsFailedRaw) {
    ctx.scheme = 'http';
    return [];
  }
  return [
    finding('SCHEME_HTTPS_ONLY', 'http-scheme', `${where} was addressed with http:// but expects TLS${status ? ` (plain request answered ${status})` : ''}; the remaining checks use https://`, {
      durationMs: performance.now() - t0,
      data: { status },
    }),
    ...tls,
  ];
}
