// The doctor's own small HTTP client for the checks that must see raw answers (ping, challenge, token): no retries,
// no automatic auth, bodies read with a cap. Manifest and blob checks use the project's UpstreamClient instead.
import { Agent, request, type Dispatcher } from 'undici';
import { toolUserAgent } from '../../obs/tools.js';
import { baseUrl, trustedCas, type DoctorContext } from './context.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ms: number;
}

/** The doctor's requests say who they are, so a gateway never counts them as pulls (docs/observability.md). */
export const DOCTOR_AGENT = toolUserAgent('doctor');
const agents = new WeakMap<DoctorContext, Map<string, Agent>>();

/** One agent per context and TLS mode, closed by `closeAgents` when the doctor is done. */
function agentFor(ctx: DoctorContext): Agent {
  const key = `${ctx.scheme}:${ctx.tlsVerified}`;
  let m = agents.get(ctx);
  if (!m) {
    m = new Map();
    agents.set(ctx, m);
  }
  let a = m.get(key);
  if (!a) {
    const ca = trustedCas(ctx);
    a = new Agent({
      connect: {
        timeout: ctx.opts.timeoutMs,
        ...(ca ? { ca } : {}),
        // Verification failures were already reported by the TLS check; the others keep diagnosing past them.
        rejectUnauthorized: ctx.tlsVerified && !ctx.opts.insecure,
      },
      headersTimeout: ctx.opts.timeoutMs,
      bodyTimeout: ctx.opts.timeoutMs,
      pipelining: 1,
    });
    m.set(key, a);
  }
  return a;
}

export async function closeAgents(ctx: DoctorContext): Promise<void> {
  const m = agents.get(ctx);
  if (m) await Promise.all([...m.values()].map((a) => a.close().catch(() => undefined)));
  agents.delete(ctx);
}

/** GET (or another method) with a capped body; throws on network errors. */
export async function rawRequest(ctx: DoctorContext, url: URL, opts: { method?: string; headers?: Record<string, string>; cap?: number } = {}): Promise<RawResponse> {
  const t0 = performance.now();
  const dispatcher = url.origin === baseUrl(ctx).origin ? agentFor(ctx) : foreignAgent(ctx);
  const r = await request(url, {
    method: (opts.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: { 'user-agent': DOCTOR_AGENT, ...(opts.headers ?? {}) },
    dispatcher,
  });
  const cap = opts.cap ?? 64 * 1024;
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body) {
    const b = c as Buffer;
    if (n + b.length > cap) {
      chunks.push(b.subarray(0, cap - n));
      r.body.destroy();
      break;
    }
    chunks.push(b);
    n += b.length;
  }
  return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 };
}

/** For token realms and blob redirect targets on other hosts: verified TLS with the same CAs (tokens must not go to an impostor). */
export function foreignAgent(ctx: DoctorContext): Agent {
  let m = agents.get(ctx);
  if (!m) {
    m = new Map();
    agents.set(ctx, m);
  }
  let a = m.get('foreign');
  if (!a) {
    const ca = trustedCas(ctx);
    a = new Agent({ connect: { timeout: ctx.opts.timeoutMs, ...(ca ? { ca } : {}), rejectUnauthorized: !ctx.opts.insecure }, headersTimeout: ctx.opts.timeoutMs, bodyTimeout: ctx.opts.timeoutMs });
    m.set('foreign', a);
  }
  return a;
}

export function header(h: RawResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
