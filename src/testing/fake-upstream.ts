/**
 * An in-process scripted OCI registry for unit tests, on 127.0.0.1:0: content is pushed into it
 * from code (FakeRegistry) and each request can be scripted to fail the way real upstreams do
 * (statuses, 429 + Retry-After, delays, cut or stalled bodies, wrong bytes, redirects, resets),
 * optionally behind Bearer auth with its own token endpoint. Unit tests need no registry process;
 * test/helpers/scripted-upstream.ts is the proxy-in-front-of-a-real-registry for integration tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { FakeRegistry, type Answer } from './fake-registry.js';

export type Fault =
  /** Any status (a 5xx, a 404 from a mirror, a 429 with `headers: { 'retry-after': '30' }`...). */
  | { status: number; headers?: Record<string, string>; body?: string }
  /** The normal answer, after this long without headers. */
  | { delay: number }
  /** The normal headers (whole Content-Length), this many body bytes, then the connection dies. */
  | { cut: number }
  /** The normal headers, this many body bytes, then silence until the client gives up. */
  | { stall: number }
  /** The normal answer with one byte flipped (same length). */
  | { wrongBytes: true }
  /** A redirect (absolute, or a path on this server such as `/storage/<digest>`). */
  | { redirect: string; status?: 301 | 302 | 303 | 307 | 308 }
  /** The connection is destroyed before any answer. */
  | { reset: true };

export interface Rule {
  method?: string;
  /** The request path (without the query): exact, or a pattern. */
  path?: string | RegExp;
  /** How many matching requests the fault applies to (default 1; Infinity: all). */
  times?: number;
  fault: Fault;
}

export interface SeenRequest { method: string; path: string; query: string; headers: IncomingMessage['headers'] }

export interface FakeUpstreamOptions {
  /** Bearer auth as Docker Hub: every /v2/ request needs a token from `<url>/token` for its scope. */
  bearer?: {
    service?: string;
    /** Users who may get tokens (Basic to the token endpoint); absent: anyone gets one anonymously. */
    users?: Record<string, string>;
    /** Where the challenge sends clients for tokens (default this server's /token). */
    realm?: string;
  };
}

export class FakeUpstream extends FakeRegistry {
  readonly requests: SeenRequest[] = [];
  readonly tokenRequests: SeenRequest[] = [];
  private readonly rules: (Rule & { left: number })[] = [];
  private readonly tokens = new Map<string, Set<string>>();
  private server!: Server;
  url = '';
  host = '';

  private constructor(private readonly opts: FakeUpstreamOptions) { super(); }

  static async start(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
    const f = new FakeUpstream(opts);
    f.server = createServer((req, res) => f.handle(req, res));
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    f.host = `127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    f.url = `http://${f.host}`;
    return f;
  }

  /** Scripts a fault for the next matching request(s); rules are matched in the order given. */
  script(rule: Rule): this {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
    return this;
  }

  /** Drops every fault still scripted. */
  heal(): void { this.rules.length = 0; }

  /** Requests seen with this method whose path matches (exact string or pattern). */
  count(method: string, path: string | RegExp): number {
    return this.requests.filter((r) => r.method === method && matches(path, r.path)).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://fake');
    const seen = { method: req.method ?? '', path: u.pathname, query: u.search, headers: req.headers };
    if (u.pathname === '/token') { this.tokenRequests.push(seen); return this.issueToken(req, u, res); }
    this.requests.push(seen);
    // Faults apply to requests that got past auth: a script names what the client gets once in.
    const denied = this.challenge(req, u.pathname);
    if (denied) return send(res, req.method, denied);
    const rule = this.rules.find((r) => r.left > 0 && (!r.method || r.method === req.method) && (!r.path || matches(r.path, u.pathname)));
    if (rule) rule.left--;
    const normal = this.answer(u.pathname, u.searchParams, req.headers);
    if (!rule) return send(res, req.method, normal);
    const f = rule.fault;
    if ('redirect' in f) return send(res, req.method, { status: f.status ?? 307, headers: { location: f.redirect }, body: Buffer.alloc(0) });
    if ('status' in f) return send(res, req.method, { status: f.status, headers: { 'content-type': 'application/json', ...(f.headers ?? {}) }, body: Buffer.from(f.body ?? '{"errors":[{"code":"UNKNOWN","message":"scripted"}]}') });
    if ('delay' in f) { setTimeout(() => { if (!res.destroyed) send(res, req.method, normal); }, f.delay); return; }
    if ('reset' in f) { req.socket.destroy(); return; }
    if ('wrongBytes' in f) {
      const bad = Buffer.from(normal.body);
      if (bad.length > 0) bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
      return send(res, req.method, { ...normal, body: bad });
    }
    // Cut or stalled: the whole length is announced, only part of it comes.
    const part = normal.body.subarray(0, 'cut' in f ? f.cut : f.stall);
    res.writeHead(normal.status, { ...normal.headers, 'content-length': String(normal.body.length) });
    res.flushHeaders();
    if ('cut' in f) res.write(part, () => res.socket?.destroy());
    else if (part.length > 0) res.write(part);
  }

  /** 401 with a Bearer challenge for the path's repository unless the request carries a token for it. */
  private challenge(req: IncomingMessage, path: string): Answer | undefined {
    const b = this.opts.bearer;
    if (!b || !path.startsWith('/v2')) return undefined;
    const name = /^\/v2\/(.+)\/(?:manifests|blobs|tags|referrers)\//.exec(path)?.[1];
    const scope = name ? `repository:${name}:pull` : undefined;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const granted = token ? this.tokens.get(token) : undefined;
    if (granted && (!scope || granted.has(scope))) return undefined;
    const realm = b.realm ?? `${this.url}/token`;
    const params = [`realm="${realm}"`, `service="${b.service ?? 'fake'}"`, ...(scope ? [`scope="${scope}"`] : [])];
    return { status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer ${params.join(',')}` }, body: Buffer.from('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}') };
  }

  private issueToken(req: IncomingMessage, u: URL, res: ServerResponse): void {
    const users = this.opts.bearer?.users;
    if (users) {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const [user, ...pw] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
      if (!user || users[user] !== pw.join(':')) return send(res, req.method, { status: 401, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"details":"bad credentials"}') });
    }
    const token = randomBytes(12).toString('hex');
    this.tokens.set(token, new Set(u.searchParams.getAll('scope')));
    send(res, req.method, { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ token, expires_in: 300 })) });
  }
}

function matches(p: string | RegExp, path: string): boolean {
  return typeof p === 'string' ? p === path : p.test(path);
}

function send(res: ServerResponse, method: string | undefined, a: Answer): void {
  res.writeHead(a.status, { ...a.headers, 'content-length': String(a.body.length) });
  res.end(method === 'HEAD' ? undefined : a.body);
}

/** The URL of a port nothing listens on (connection refused), for "the upstream is down". */
export async function refusedUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
