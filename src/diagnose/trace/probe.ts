// Asks each endpoint for the manifest the way the runtime would (its path and ?ns=), anonymously, answering a Bearer
// challenge with an anonymous token. Insecure endpoints are tried over https without verification, then http.
// A refusal is asked again with GET: HEAD answers have no body, and the body says why (a gateway names the
// upstream it could not reach), which is what a person needs instead of a bare 502.
import { Agent, request } from 'undici';
import { bearerChallenge } from '../../auth/challenge.js';
import { MANIFEST_TYPES } from '../../oci/mediatypes.js';
import { toolUserAgent } from '../../obs/tools.js';
import { errorText } from '../common/http.js';
import { explainErrors, parseErrorBody } from '../common/registry-error.js';
import { describePolicy, policyHeader, policyRefusal } from '../common/policy.js';
import type { BlobSource, Probe, RuntimeTrace, TraceEndpoint } from './types.js';

const ACCEPT = MANIFEST_TYPES.join(', ');
const AGENT = toolUserAgent('trace');
const MAX_ERROR_BODY = 64 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer;
}

async function get(url: string, agent: Agent, headers: Record<string, string>, method: 'HEAD' | 'GET' = 'HEAD'): Promise<Answer> {
  const r = await request(url, { method, headers: { 'user-agent': AGENT, accept: ACCEPT, ...headers }, dispatcher: agent });
  if (method === 'HEAD') {
    await r.body.dump().catch(() => undefined);
    return { status: r.statusCode, headers: r.headers };
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body) {
    const b = c as Buffer;
    chunks.push(b);
    n += b.length;
    if (n >= MAX_ERROR_BODY) {
      r.body.destroy();
      break;
    }
  }
  return { status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY) };
}

async function withToken(url: string, agent: Agent, method: 'HEAD' | 'GET' = 'HEAD', extra: Record<string, string> = {}): Promise<Answer> {
  const first = await get(url, agent, extra, method);
  if (first.status !== 401) return first;
  const ch = bearerChallenge(first.headers['www-authenticate']);
  if (!ch?.params.realm) return first;
  const t = new URL(ch.params.realm);
  if (ch.params.service) t.searchParams.set('service', ch.params.service);
  if (ch.params.scope) t.searchParams.set('scope', ch.params.scope);
  const tr = await request(t, { dispatcher: agent, headers: { 'user-agent': AGENT } });
  const doc = (await tr.body.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = doc.token ?? doc.access_token;
  return token ? get(url, agent, { ...extra, authorization: `Bearer ${token}` }, method) : first;
}

/** What the endpoint's error body says about a refusal (GET, since HEAD has none); undefined when it says nothing. */
async function refusal(url: string, agent: Agent, registry: string): Promise<string | undefined> {
  try {
    const r = await withToken(url, agent, 'GET');
    const errors = parseErrorBody(r.body);
    const refused = policyRefusal(errors);
    // A pull policy's refusal: the policy, the reason, and what would make the image pass.
    return refused ? describePolicy(refused) : explainErrors(errors, registry);
  } catch {
    return undefined;
  }
}

async function probeEndpoint(e: TraceEndpoint, timeoutMs: number, registry = ''): Promise<Probe> {
  const t0 = performance.now();
  const bases = e.httpFallback && e.url.startsWith('https:') ? [e.url, e.url.replace(/^https:/, 'http:')] : [e.url];
  let last: Probe = { ms: 0 };
  for (const base of bases) {
    const agent = new Agent({ connect: { timeout: timeoutMs, rejectUnauthorized: !e.insecure }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    try {
      const r = await withToken(base + e.request, agent);
      const d = r.headers['docker-content-digest'];
      const said = r.status >= 400 ? await refusal(base + e.request, agent, registry) : undefined;
      const v = policyHeader(r.headers['x-regway-policy']);
      const policy = v ? describePolicy(v) : undefined;
      return { status: r.status, url: base, ms: performance.now() - t0, ...(typeof d === 'string' ? { digest: d } : {}), ...(said ? { said } : {}), ...(policy ? { policy } : {}) };
    } catch (err) {
      const c = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      last = { error: `${c.cause?.code ?? c.code ?? 'ERROR'}: ${c.cause?.message ?? c.message}`, url: base, ms: performance.now() - t0 };
    } finally {
      await agent.close().catch(() => undefined);
    }
  }
  return last;
}

/** Probes endpoints in order until one serves the manifest: the runtime never goes further than that. */
export async function probeRuntime(t: RuntimeTrace, timeoutMs: number, registry = ''): Promise<void> {
  for (const [i, e] of t.endpoints.entries()) {
    if (e.skipped) continue;
    e.probe = await probeEndpoint(e, timeoutMs, registry);
    if (e.probe.status === 200) {
      t.answeredBy = i;
      e.blob = await probeBlobSource(e, timeoutMs);
      return;
    }
  }
}

/**
 * Where the bytes of a pull really come from: one blob of the image (a layer, else the config; the
 * first platform of an index), asked for its first byte without following a redirect, then the
 * redirect's target asked the same way without credentials (as dockerd, containerd and podman do).
 */
export async function probeBlobSource(e: TraceEndpoint, timeoutMs: number): Promise<BlobSource | undefined> {
  const base = e.probe?.url ?? e.url;
  const agent = new Agent({ connect: { timeout: timeoutMs, rejectUnauthorized: !e.insecure }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const digest = await someBlob(base + e.request, agent);
    if (!digest) return undefined;
    const url = base + e.request.replace(/\/manifests\/[^?]+/, `/blobs/${digest}`);
    const r = await withToken(url, agent, 'GET', { range: 'bytes=0-0' });
    const location = r.headers.location;
    if (!(r.status >= 300 && r.status < 400 && typeof location === 'string')) return { digest, status: r.status };
    const target = new URL(location, url);
    const out: BlobSource = { digest, status: r.status, redirectedTo: `${target.protocol}//${target.host}` };
    try {
      const t = await get(target.href, agent, { range: 'bytes=0-0' }, 'GET');
      return { ...out, targetStatus: t.status };
    } catch (err) {
      return { ...out, error: errorText(err) };
    }
  } catch (err) {
    return { digest: '', error: errorText(err) };
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** A blob digest of the manifest at `url` (following an index to its first child). */
async function someBlob(url: string, agent: Agent, depth = 0): Promise<string | undefined> {
  const r = await withToken(url, agent, 'GET');
  if (r.status !== 200 || !r.body) return undefined;
  let doc: { layers?: { digest?: string }[]; config?: { digest?: string }; manifests?: { digest?: string }[] };
  try {
    doc = JSON.parse(r.body.toString('utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const child = doc.manifests?.[0]?.digest;
  if (child && depth === 0) return someBlob(url.replace(/\/manifests\/[^?]+/, `/manifests/${child}`), agent, 1);
  const d = doc.layers?.[0]?.digest ?? doc.config?.digest;
  return typeof d === 'string' && /^sha(256|512):[0-9a-f]+$/.test(d) ? d : undefined;
}
