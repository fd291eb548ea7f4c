// A scripted registry for the hostile-upstream tests: each test installs a handler that answers
// the requests it wants to misbehave on (an HTML "manifest", a 429, a stalled body, a realm on
// another host...), and everything else is proxied byte for byte to a real registry behind it
// (a real distribution), so the misbehaviour is the only thing that is not real.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export interface SeenRequest { method: string; url: string; headers: IncomingMessage['headers'] }

/** Returns true when it answered; false lets the request through to the registry behind. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface ScriptedUpstream {
  url: string;
  host: string;
  port: number;
  requests: SeenRequest[];
  on(h: Handler | undefined): void;
  stop(): Promise<void>;
}

export async function startScriptedUpstream(opts: { behind?: string; tls?: { key: string; cert: string }; host?: string } = {}): Promise<ScriptedUpstream> {
  let handler: Handler | undefined;
  const requests: SeenRequest[] = [];
  const listener = async (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    try {
      if (handler && (await handler(req, res))) return;
      if (!opts.behind) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}'); return; }
      await proxy(opts.behind, req, res);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e)); else res.destroy();
    }
  };
  const server: Server = opts.tls ? createTlsServer(opts.tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const host = `${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}`, host, port, requests,
    on: (h) => { handler = h; },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function proxy(target: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection'].includes(k))) as Record<string, string>;
  const r = await request(`${target}${req.url}`, { method: req.method as 'GET', headers });
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && k !== 'connection' && k !== 'transfer-encoding') out[k] = v;
  res.writeHead(r.statusCode, out);
  for await (const chunk of r.body) res.write(chunk);
  res.end();
}

/** The bytes the registry behind answers for a path (to mangle them in a handler). */
export async function fetchBehind(target: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const r = await request(`${target}${path}`, { headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h[k] = v;
  return { status: r.statusCode, headers: h, body };
}
