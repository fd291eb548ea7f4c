// Stage 1: does the registry's host name resolve? IP literals need no lookup.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DoctorContext } from './context.js';
import { finding } from './findings.js';
import type { Finding } from './types.js';

export function hostOf(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1');
}

export async function checkDns(ctx: DoctorContext): Promise<Finding[]> {
  const host = hostOf(ctx.target.endpoint);
  if (isIP(host)) {
    ctx.addresses = [host];
    return [finding('DNS_OK', 'dns', `${host} is an IP address; no lookup needed`, { durationMs: 0, data: { addresses: [host] } })];
  }
  const t0 = performance.now();
  try {
    const res = await withTimeout(lookup(host, { all: true }), ctx.opts.timeoutMs, `lookup of ${host}`);
    ctx.addresses = res.map((a) => a.address);
    return [finding('DNS_OK', 'dns', `${host} resolves to ${ctx.addresses.join(', ')}`, { durationMs: performance.now() - t0, data: { addresses: ctx.addresses } })];
  } catch (e) {
    ctx.stop = true;
    const code = (e as NodeJS.ErrnoException).code ?? 'ERROR';
    return [finding('DNS_FAILED', 'dns', `${host}: ${code} (${(e as Error).message})`, { durationMs: performance.now() - t0, data: { host, code } })];
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
