// Asks each endpoint for the manifest the way the runtime would (its path and ?ns=), anonymously, answering a Bearer
// challenge with an anonymous token. Insecure endpoints are tried over https without verification, then http.
import { Agent, request } from 'undici';
import { bearerChallenge } from '../../auth/challenge.js';
import { MANIFEST_TYPES } from '../../oci/mediatypes.js';
import type { Probe, RuntimeTrace, TraceEndpoint } from './types.js';

const ACCEPT = MANIFEST_TYPES.join(', ');

async function get(url: string, agent: Agent, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const r = await request(url, { method: 'HEAD', headers: { 'user-agent': 'regway-trace/0.1', accept: ACCEPT, ...headers }, dispatcher: agent });
  await r.body.dump().catch(() => undefined);
  return { status: r.statusCode, headers: r.headers };
}

async function withToken(url: string, agent: Agent): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const first = await get(url, agent, {});
  if (first.status !== 401) return first;
  const ch = bearerChallenge(first.headers['www-authenticate']);
  if (!ch?.params.realm) return first;
  const t = new URL(ch.params.realm);
  if (ch.params.service) t.searchParams.set('service', ch.params.service);
  if (ch.params.scope) t.searchParams.set('scope', ch.params.scope);
  const tr = await request(t, { dispatcher: agent });
  const doc = (await tr.body.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = doc.token ?? doc.access_token;
  return token ? get(url, agent, { authorization: `Bearer ${token}` }) : first;
}

export async function probeEndpoint(e: TraceEndpoint, timeoutMs: number): Promise<Probe> {
  const t0 = performance.now();
  const bases = e.httpFallback && e.url.startsWith('https:') ? [e.url, e.url.replace(/^https:/, 'http:')] : [e.url];
  let last: Probe = { ms: 0 };
  for (const base of bases) {
    const agent = new Agent({ connect: { timeout: timeoutMs, rejectUnauthorized: !e.insecure }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    try {
      const r = await withToken(base + e.request, agent);
      const d = r.headers['docker-content-digest'];
      return { status: r.status, url: base, ms: performance.now() - t0, ...(typeof d === 'string' ? { digest: d } : {}) };
    } catch (err) {
      const c = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      last = { error: `${c.cause?.code ?? c.code ?? 'ERROR'}: ${c.cause?.message ?? c.message}`, url: base, ms: performance.now() - t0 };
    } finally { await agent.close().catch(() => undefined); }
  }
  return last;
}

/** Probes endpoints in order until one serves the manifest: the runtime never goes further than that. */
export async function probeRuntime(t: RuntimeTrace, timeoutMs: number): Promise<void> {
  for (const [i, e] of t.endpoints.entries()) {
    if (e.skipped) continue;
    e.probe = await probeEndpoint(e, timeoutMs);
    if (e.probe.status === 200) { t.answeredBy = i; return; }
  }
}
