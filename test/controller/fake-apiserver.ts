// A minimal in-test API server, kept for the one thing a real kube-apiserver cannot do for a test:
// answer chosen requests with an error status on demand (failNext), so the Reflector's backoff can be
// proven (watch-faults.test.ts). It serves only what that needs, in the real wire format, over HTTPS
// like a real one: a Pod list (metadata.resourceVersion) and a watch stream that stays open. Every
// other controller test runs against the real kube-apiserver + etcd (test/helpers/kube.ts).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeCert, type TestCert } from './certs.js';

type Obj = { metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string }; [k: string]: unknown };
type Match = (method: string, path: string, query: Record<string, string>) => boolean;

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeApiServer {
  readonly server: Server;
  url = '';
  rv = 100;
  private readonly pods = new Map<string, Obj>();
  private readonly watchers = new Set<ServerResponse>();
  private faults: Array<{ match: Match; code: number }> = [];
  readonly cert: TestCert;

  constructor(readonly opts: { dir: string }) {
    this.cert = makeCert(opts.dir, 'apiserver');
    this.server = createServer({ cert: this.cert.cert, key: this.cert.key }, (req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.end();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A kubeconfig pointing at this server, trusting its CA. */
  writeKubeconfig(name = 'kubeconfig'): string {
    const file = join(this.opts.dir, name);
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      'clusters:', '- name: fake', '  cluster:', `    server: ${this.url}`, `    certificate-authority-data: ${Buffer.from(this.cert.ca).toString('base64')}`,
      'users:', '- name: fake', '  user:', '    token: fake',
      'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: fake', '',
    ].join('\n'));
    return file;
  }

  upsert(input: { metadata: Obj['metadata'] }): void {
    const o = structuredClone(input) as Obj;
    o.metadata = { ...o.metadata, uid: o.metadata.uid ?? randomUUID(), resourceVersion: String(++this.rv) };
    this.pods.set(`${o.metadata.namespace}/${o.metadata.name}`, o);
  }

  /** The next `times` requests matching get `code` (a Status body). */
  failNext(times: number, code: number, match: Match = () => true): void {
    for (let i = 0; i < times; i++) this.faults.push({ match, code });
  }

  get openWatches(): number { return this.watchers.size; }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    const method = req.method ?? 'GET';
    for await (const _ of req) { /* drain */ }
    const reply = (code: number, payload: unknown): void => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(payload)); };
    const fi = this.faults.findIndex((f) => f.match(method, u.pathname, query));
    if (fi >= 0) { const f = this.faults.splice(fi, 1)[0]!; return reply(f.code, status(f.code, f.code === 500 ? 'InternalError' : 'ServiceUnavailable', 'injected fault')); }
    if (method !== 'GET' || u.pathname !== '/api/v1/pods') return reply(404, status(404, 'NotFound', `not served by this fake: ${method} ${u.pathname}`));
    if (query.watch === '1' || query.watch === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    reply(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...this.pods.values()] });
  }
}
