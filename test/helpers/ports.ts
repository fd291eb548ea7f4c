// Loopback port and readiness helpers for integration tests.
import { createServer } from 'node:net';
import { request } from 'node:http';
import { waitFor } from './wait.js';

/**
 * Asks the kernel for an unused port on 127.0.0.1. The port is released before returning, so a
 * small race with other processes exists; we accept that because the servers we start (distribution,
 * dockerd...) only accept a port number, not an already-open socket.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: unexpected server address'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** One HTTP GET that resolves with the status code, or rejects on any socket-level failure. */
function probe(url: string, perTryMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: perTryMs, agent: false }, (res) => {
      res.resume(); // drain so the socket is released
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `url` until the server answers with ANY HTTP status (401 counts: an auth-protected registry
 * is up even though it refuses us). Connection refused/reset means "not yet". Rejects after timeoutMs.
 */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return waitFor(() => probe(url, Math.min(2_000, Math.max(100, deadline - Date.now()))), `an HTTP answer from ${url}`, timeoutMs);
}
