// Stage 2: can we open a TCP connection to the registry port? Distinguishes refused (nothing listens) from a
// timeout (dropped SYNs, full accept queue) because the fixes differ.
import { connect } from 'node:net';
import type { DoctorContext } from './context.js';
import { hostOf } from './dns.js';
import { finding } from './findings.js';
import { endpointPort } from '../common/target.js';
import type { Finding } from './types.js';

export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<{ ms: number; local: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect({ host, port });
    s.setTimeout(timeoutMs, () => {
      s.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    s.once('connect', () => {
      const local = `${s.localAddress}:${s.localPort}`;
      s.destroy();
      resolve({ ms: performance.now() - t0, local });
    });
    s.once('error', reject);
  });
}

export async function checkTcp(ctx: DoctorContext): Promise<Finding[]> {
  const port = endpointPort(ctx.target.endpoint);
  const addr = ctx.addresses[0] ?? hostOf(ctx.target.endpoint);
  const t0 = performance.now();
  try {
    const r = await tcpConnect(addr, port, ctx.opts.timeoutMs);
    return [finding('TCP_OK', 'tcp', `connected to ${addr}:${port} in ${r.ms.toFixed(1)} ms`, { durationMs: r.ms, data: { address: addr, port } })];
  } catch (e) {
    ctx.stop = true;
    const code = (e as NodeJS.ErrnoException).code ?? 'ERROR';
    const ms = performance.now() - t0;
    const data = { address: addr, port, code };
    if (code === 'ECONNREFUSED') return [finding('TCP_REFUSED', 'tcp', `${addr}:${port} refused the connection (ECONNREFUSED)`, { durationMs: ms, data })];
    if (code === 'ETIMEDOUT') return [finding('TCP_TIMEOUT', 'tcp', `${addr}:${port}: no answer to the connection within ${ctx.opts.timeoutMs} ms`, { durationMs: ms, data })];
    return [finding('TCP_FAILED', 'tcp', `${addr}:${port}: ${code} (${(e as Error).message})`, { durationMs: ms, data })];
  }
}
