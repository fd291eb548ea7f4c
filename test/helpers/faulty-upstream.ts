// A deliberately misbehaving registry for failure tests: it serves blobs it was given, but can cut
// the connection mid-body, send wrong bytes, or stall. Real registries are used everywhere else;
// these faults cannot be provoked from a healthy distribution on demand.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export type Fault = 'none' | 'cut' | 'corrupt' | 'stall';

export interface FaultyUpstream {
  url: string;
  host: string;
  /** Counts of GET requests per blob digest. */
  blobGets: Map<string, number>;
  setFault(f: Fault): void;
  addBlob(bytes: Buffer): string;
  stop(): Promise<void>;
}

export async function startFaultyUpstream(): Promise<FaultyUpstream> {
  const blobs = new Map<string, Buffer>();
  const blobGets = new Map<string, number>();
  let fault: Fault = 'none';
  const server: Server = createServer((req, res) => {
    const m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
    if (req.url === '/v2/') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    const data = m ? blobs.get(m[2]!) : undefined;
    if (!m || !data) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}'); return; }
    if (req.method === 'HEAD') { res.writeHead(200, { 'content-length': data.length }).end(); return; }
    blobGets.set(m[2]!, (blobGets.get(m[2]!) ?? 0) + 1);
    res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
    const half = Math.floor(data.length / 2);
    switch (fault) {
      case 'cut': res.write(data.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 50)); return;
      case 'corrupt': { const bad = Buffer.from(data); bad[half] = bad[half]! ^ 0xff; res.end(bad); return; }
      case 'stall': res.write(data.subarray(0, half)); return; // never ends
      default: res.end(data);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, blobGets,
    setFault: (f) => { fault = f; },
    addBlob: (bytes) => { const d = `sha256:${createHash('sha256').update(bytes).digest('hex')}`; blobs.set(d, bytes); return d; },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
