// A small Kubernetes REST client: @kubernetes/client-node's KubeConfig for everything about *who we
// are and where the server is* (kubeconfig files, contexts, in-cluster service-account tokens, exec
// and OIDC plugins, client certificates), and undici for the requests themselves, so list and watch
// return the same plain JSON and the watch stream is ours to read line by line.
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request, type Dispatcher } from 'undici';
import type { Status } from './k8s-types.js';

/** An API answer other than 2xx, with the server's Status reason (NotFound, Conflict, Expired...). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly verb: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export function isKubeStatus(status: number, e: unknown): boolean {
  return e instanceof KubeApiError && e.status === status;
}

type PatchType = 'application/merge-patch+json' | 'application/strategic-merge-patch+json' | 'application/json-patch+json';

/** The verbs the controller uses. The fake API server in the tests serves exactly these. */
export interface KubeApi {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown, type: PatchType): Promise<T>;
  /** Opens `path?watch=1&...`; yields one JSON line per watch event until the server ends the stream. */
  watch(path: string, query: Record<string, string>, signal: AbortSignal): Promise<AsyncIterable<string>>;
}

/** Loads a kubeconfig file, else the in-cluster service account, else ~/.kube/config. */
export function loadKubeConfig(opts: { kubeconfig?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: pass --kubeconfig, or run in a Pod with a service account');
  return kc;
}

interface Prepared {
  base: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

async function errorOf(verb: string, path: string, res: Dispatcher.ResponseData): Promise<KubeApiError> {
  const text = (await res.body.text().catch(() => '')).slice(0, 4096);
  let reason = '';
  let message = text;
  try {
    const st = JSON.parse(text) as Status;
    reason = st.reason ?? '';
    message = st.message ?? text;
  } catch {
    /* not a Status: keep the text */
  }
  return new KubeApiError(res.statusCode, reason, `${verb} ${path}: ${res.statusCode} ${reason} ${message}`.trim(), verb, path);
}

async function* lines(body: AsyncIterable<Buffer>): AsyncIterable<string> {
  let buf = '';
  for await (const chunk of body) {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

/** A KubeApi on a KubeConfig. Credentials are re-applied per request: tokens rotate. */
export function kubeApiFromConfig(kc: KubeConfig, opts: { userAgent?: string; requestTimeoutMs?: number } = {}): KubeApi {
  const agents = new Map<string, Agent>();
  const timeout = opts.requestTimeoutMs ?? 30_000;
  async function prepare(): Promise<Prepared> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in kubeconfig');
    const o: Record<string, unknown> & { headers?: Record<string, string> } = {};
    await kc.applyToHTTPSOptions(o as never);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': opts.userAgent ?? 'regway-controller' };
    for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (typeof o.auth === 'string') headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    const connect = {
      ...(o.ca ? { ca: o.ca as string } : {}),
      ...(o.cert ? { cert: o.cert as string } : {}),
      ...(o.key ? { key: o.key as string } : {}),
      ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    const id = JSON.stringify(connect);
    let agent = agents.get(id);
    if (!agent) {
      agent = new Agent({ connect, keepAliveTimeout: 30_000 });
      agents.set(id, agent);
    }
    return { base: cluster.server.replace(/\/+$/, ''), headers, dispatcher: agent };
  }
  async function call<T>(method: Dispatcher.HttpMethod, path: string, body?: unknown, type?: string): Promise<T> {
    const p = await prepare();
    const headers = { ...p.headers, ...(body !== undefined ? { 'content-type': type ?? 'application/json' } : {}) };
    const res = await request(p.base + path, {
      method,
      headers,
      dispatcher: p.dispatcher,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (res.statusCode < 200 || res.statusCode >= 300) throw await errorOf(method, path, res);
    return (await res.body.json()) as T;
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    patch: (path, body, type) => call('PATCH', path, body, type),
    async watch(path, query, signal) {
      const p = await prepare();
      const qs = new URLSearchParams({ watch: '1', ...query }).toString();
      // No body timeout: a quiet watch is normal; the server closes it after timeoutSeconds.
      const res = await request(`${p.base}${path}?${qs}`, { method: 'GET', headers: p.headers, dispatcher: p.dispatcher, headersTimeout: timeout, bodyTimeout: 0, signal });
      if (res.statusCode !== 200) throw await errorOf('WATCH', path, res);
      return lines(res.body as AsyncIterable<Buffer>);
    },
  };
}
