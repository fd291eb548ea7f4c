// There is no Kubernetes API server on this machine; this in-test server speaks the real list/watch
// protocol, for the subset the controller uses, in the real wire format:
// - GET collection (cluster-wide /api/v1/pods or namespaced /api/v1/namespaces/NS/pods): a List
//   with metadata.resourceVersion, paged with limit/continue, filtered by fieldSelector (equality
//   on dotted paths, comma = AND, as the apiserver does for events' involvedObject.kind/reason).
// - GET collection?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S: a chunked
//   200 response of JSON lines {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":...},
//   replaying history after N then streaming live changes, closing after timeoutSeconds. A
//   resourceVersion older than the compacted history gets {"type":"ERROR","object":{"kind":
//   "Status","code":410,"reason":"Expired",...}} like etcd compaction makes the real one do.
// - GET/POST/PUT/PATCH objects (events, coordination.k8s.io/v1 leases, serviceaccounts, nodes):
//   409 Conflict on a stale metadata.resourceVersion, 409 AlreadyExists on create, 404 NotFound,
//   merge-patch and strategic-merge-patch bodies (strategic treated as a merge: enough for the
//   fields we patch, which have no merge keys), 415 for json-patch, which the controller never sends.
// Test hooks: upsert/remove objects (as the kubelet or a user would), compact history, close all
// watches, inject API errors, and a log of every request with its Content-Type.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeCert, type TestCert } from './certs.js';

type Obj = { metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generateName?: string; creationTimestamp?: string }; [k: string]: unknown };
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface Change { rv: number; type: EventType; resource: string; obj: Obj }
interface Route { resource: string; namespace?: string; name?: string; group: string }
interface Watcher { route: Route; filter: (o: Obj) => boolean; res: ServerResponse; kind: string }

export interface RequestRecord { method: string; path: string; query: Record<string, string>; contentType?: string; body?: unknown; status: number }

const KINDS: Record<string, { kind: string; apiVersion: string; namespaced: boolean }> = {
  pods: { kind: 'Pod', apiVersion: 'v1', namespaced: true },
  events: { kind: 'Event', apiVersion: 'v1', namespaced: true },
  serviceaccounts: { kind: 'ServiceAccount', apiVersion: 'v1', namespaced: true },
  nodes: { kind: 'Node', apiVersion: 'v1', namespaced: false },
  leases: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', namespaced: true },
};

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function parseRoute(path: string): Route | undefined {
  const m = /^\/(?:api\/v1|apis\/(coordination\.k8s\.io)\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/.exec(path);
  if (!m || !KINDS[m[3]!]) return undefined;
  return { group: m[1] ?? '', resource: m[3]!, ...(m[2] ? { namespace: decodeURIComponent(m[2]) } : {}), ...(m[4] ? { name: decodeURIComponent(m[4]) } : {}) };
}

function field(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

function selector(s: string | undefined): (o: Obj) => boolean {
  if (!s) return () => true;
  const terms = s.split(',').map((t) => { const neg = t.includes('!='); const [k, v] = t.split(neg ? '!=' : /==?/); return { k: k!, v: v ?? '', neg }; });
  return (o) => terms.every(({ k, v, neg }) => (String(field(o, k) ?? '') === v) !== neg);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeApiServer {
  readonly server: Server;
  url = '';
  rv = 100;
  /** Changes at or before this resourceVersion are gone ("compacted"): watching from them is 410. */
  compactedRv = 100;
  readonly requests: RequestRecord[] = [];
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private faults: Array<{ match: (method: string, path: string, query: Record<string, string>) => boolean; code: number }> = [];
  private bookmarkTimer?: NodeJS.Timeout;

  /** Served over HTTPS like a real apiserver (client-node refuses plain http without skip-verify). */
  readonly cert: TestCert;

  constructor(readonly opts: { dir: string; token?: string; bookmarkIntervalMs?: number }) {
    this.cert = makeCert(opts.dir, 'apiserver');
    this.server = createServer({ cert: this.cert.cert, key: this.cert.key }, (req, res) => void this.handle(req, res));
    for (const r of Object.keys(KINDS)) this.store.set(r, new Map());
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    if (this.opts.bookmarkIntervalMs) this.bookmarkTimer = setInterval(() => this.bookmark(), this.opts.bookmarkIntervalMs);
    return this;
  }

  async stop(): Promise<void> {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A kubeconfig pointing at this server: its CA, the bearer token it requires (if any). */
  writeKubeconfig(name = 'kubeconfig'): string {
    const file = join(this.opts.dir, name);
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      'clusters:', '- name: fake', '  cluster:', `    server: ${this.url}`, `    certificate-authority-data: ${Buffer.from(this.cert.ca).toString('base64')}`,
      'users:', '- name: fake', '  user:', `    token: ${this.opts.token ?? 'none'}`,
      'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: fake', '',
    ].join('\n'));
    return file;
  }

  private key(ns: string | undefined, name: string): string { return `${ns ?? ''}/${name}`; }

  private commit(resource: string, type: EventType, obj: Obj): Obj {
    const o = structuredClone(obj);
    if (type !== 'DELETED') o.metadata.resourceVersion = String(++this.rv);
    else o.metadata.resourceVersion = String(++this.rv);
    const ch: Change = { rv: this.rv, type, resource, obj: o };
    this.history.push(ch);
    for (const w of this.watchers) if (this.matches(w, ch)) this.send(w.res, { type, object: this.withKind(resource, o) });
    return o;
  }

  private withKind(resource: string, o: Obj): Obj {
    return { apiVersion: KINDS[resource]!.apiVersion, kind: KINDS[resource]!.kind, ...o };
  }

  private matches(w: Watcher, ch: Change): boolean {
    return ch.resource === w.route.resource && (!w.route.namespace || ch.obj.metadata.namespace === w.route.namespace) && w.filter(ch.obj);
  }

  private send(res: ServerResponse, ev: unknown): void {
    if (!res.writableEnded) res.write(`${JSON.stringify(ev)}\n`);
  }

  /** Creates or replaces an object as a controller-manager/kubelet would; returns the stored copy. */
  upsert(resource: string, input: { metadata: Obj['metadata'] }): Obj {
    const obj = input as Obj;
    const m = this.store.get(resource)!;
    const k = this.key(obj.metadata.namespace, obj.metadata.name!);
    const prev = m.get(k);
    const o: Obj = { ...structuredClone(obj), metadata: { ...obj.metadata, uid: prev?.metadata.uid ?? obj.metadata.uid ?? randomUUID(), creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z') } };
    const stored = this.commit(resource, prev ? 'MODIFIED' : 'ADDED', o);
    m.set(k, stored);
    return stored;
  }

  remove(resource: string, namespace: string | undefined, name: string): void {
    const m = this.store.get(resource)!;
    const prev = m.get(this.key(namespace, name));
    if (!prev) return;
    m.delete(this.key(namespace, name));
    this.commit(resource, 'DELETED', prev);
  }

  get(resource: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.store.get(resource)!.get(this.key(namespace, name));
  }

  list(resource: string): Obj[] {
    return [...this.store.get(resource)!.values()];
  }

  /** Drops all history: every watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  /** Ends every open watch stream cleanly, as the apiserver does at timeoutSeconds. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for them. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.kind) continue;
      this.send(w.res, { type: 'BOOKMARK', object: { kind: w.kind, apiVersion: KINDS[w.route.resource]!.apiVersion, metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  /** The next `times` requests matching get `code` (a Status body). */
  failNext(times: number, code: number, match: (method: string, path: string, query: Record<string, string>) => boolean = () => true): void {
    for (let i = 0; i < times; i++) this.faults.push({ match, code });
  }

  get openWatches(): number { return this.watchers.size; }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try { body = raw ? JSON.parse(raw) : undefined; } catch { body = raw; }
    const rec: RequestRecord = { method, path: u.pathname, query, ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}), ...(body !== undefined ? { body } : {}), status: 0 };
    this.requests.push(rec);
    const reply = (code: number, payload: unknown): void => {
      rec.status = code;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
    const fi = this.faults.findIndex((f) => f.match(method, u.pathname, query));
    if (fi >= 0) { const f = this.faults.splice(fi, 1)[0]!; return reply(f.code, status(f.code, f.code === 500 ? 'InternalError' : 'ServiceUnavailable', 'injected fault')); }
    const route = parseRoute(u.pathname);
    if (!route) return reply(404, status(404, 'NotFound', `the server could not find the requested resource (${u.pathname})`));
    if (method === 'GET' && !route.name && (query.watch === '1' || query.watch === 'true')) return this.watch(route, query, res, rec);
    if (method === 'GET' && !route.name) return reply(200, this.listBody(route, query));
    return this.object(method, route, body, req.headers['content-type'] ?? '', reply);
  }

  private listBody(route: Route, query: Record<string, string>): unknown {
    const filter = selector(query.fieldSelector);
    const all = [...this.store.get(route.resource)!.values()]
      .filter((o) => (!route.namespace || o.metadata.namespace === route.namespace) && filter(o))
      .sort((a, b) => this.key(a.metadata.namespace, a.metadata.name!).localeCompare(this.key(b.metadata.namespace, b.metadata.name!)));
    // continue token: "<snapshot rv>:<offset>"; a snapshot older than compaction is 410 like etcd's.
    let start = 0;
    let snapshot = this.rv;
    if (query.continue) { const [s, off] = query.continue.split(':'); snapshot = Number(s); start = Number(off); }
    const limit = query.limit ? Number(query.limit) : all.length;
    const items = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { kind: `${KINDS[route.resource]!.kind}List`, apiVersion: KINDS[route.resource]!.apiVersion, metadata: { resourceVersion: String(snapshot), ...(more ? { continue: `${snapshot}:${start + limit}` } : {}) }, items };
  }

  private watch(route: Route, query: Record<string, string>, res: ServerResponse, rec: RequestRecord): void {
    rec.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { route, filter: selector(query.fieldSelector), res, kind: KINDS[route.resource]!.kind };
    const from = Number(query.resourceVersion ?? '0');
    if (query.resourceVersion && from < this.compactedRv) {
      this.send(res, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`) });
      res.end();
      return;
    }
    for (const ch of this.history) if (ch.rv > from && this.matches(w, ch)) this.send(res, { type: ch.type, object: this.withKind(ch.resource, ch.obj) });
    if (query.allowWatchBookmarks !== 'true') w.kind = '';
    this.watchers.add(w);
    const timeout = Number(query.timeoutSeconds ?? '0');
    const t = timeout > 0 ? setTimeout(() => { this.watchers.delete(w); res.end(); }, timeout * 1000) : undefined;
    res.on('close', () => { if (t) clearTimeout(t); this.watchers.delete(w); });
  }

  private object(method: string, route: Route, body: unknown, contentType: string, reply: (c: number, p: unknown) => void): void {
    const m = this.store.get(route.resource)!;
    const info = KINDS[route.resource]!;
    const ns = info.namespaced ? route.namespace : undefined;
    if (method === 'POST' && !route.name) {
      const o = body as Obj;
      if (!o?.metadata) return reply(400, status(400, 'BadRequest', 'metadata required'));
      const name = o.metadata.name ?? (o.metadata.generateName ? `${o.metadata.generateName}${randomUUID().slice(0, 5)}` : undefined);
      if (!name) return reply(422, status(422, 'Invalid', 'metadata.name: Required value'));
      if (route.resource === 'events' && !(o as { involvedObject?: unknown }).involvedObject) return reply(422, status(422, 'Invalid', 'involvedObject: Required value'));
      if (m.has(this.key(ns, name))) return reply(409, status(409, 'AlreadyExists', `${route.resource} "${name}" already exists`));
      const stored = this.upsert(route.resource, { ...o, metadata: { ...o.metadata, name, ...(ns ? { namespace: ns } : {}) } });
      return reply(201, this.withKind(route.resource, stored));
    }
    const cur = route.name ? m.get(this.key(ns, route.name)) : undefined;
    if (!cur) return reply(404, status(404, 'NotFound', `${route.resource} "${route.name}" not found`));
    if (method === 'GET') return reply(200, this.withKind(route.resource, cur));
    let next: Obj;
    if (method === 'PUT') next = body as Obj;
    else if (method === 'PATCH') {
      if (!/^application\/(merge-patch|strategic-merge-patch)\+json/.test(contentType)) return reply(415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`));
      next = mergePatch(cur, body) as Obj;
    } else return reply(405, status(405, 'MethodNotAllowed', method));
    const sent = (body as Obj | undefined)?.metadata?.resourceVersion;
    if (sent && sent !== cur.metadata.resourceVersion) return reply(409, status(409, 'Conflict', `Operation cannot be fulfilled on ${route.resource} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`));
    const stored = this.upsert(route.resource, { ...next, metadata: { ...next.metadata, name: route.name!, ...(ns ? { namespace: ns } : {}), uid: cur.metadata.uid! } });
    return reply(200, this.withKind(route.resource, stored));
  }
}
