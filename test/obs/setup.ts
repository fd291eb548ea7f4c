// Shared pieces for the observability tests: a gateway with observability config, a webhook
// receiver, and a scripted image pull over plain HTTP (manifest by tag, then every blob).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { applyOverrides } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { silentLogger, createLogger } from '../../src/obs/logger.js';

export interface ObsGateway extends Gateway { url: string; host: string; storage: string; auditPath: string; stop(opts?: { keep?: boolean }): Promise<void> }

/** A gateway on 127.0.0.1:0 with the given extra config (audit, alerts, slo, trustedProxies...). */
export async function startObsGateway(registries: NonNullable<ConfigInput['registries']>, extra: Partial<ConfigInput> = {}, storage?: string): Promise<ObsGateway> {
  const dir = storage ?? mkdtempSync(join(tmpdir(), 'regway-obs-'));
  const config = applyOverrides({
    listen: '127.0.0.1:0', storage: { path: dir }, registries,
    health: { probeInterval: 0 },
    log: { level: process.env.REGWAY_TEST_LOG ? 'debug' : 'silent' },
    ...extra,
  } as ConfigInput, {});
  const gw = await createGateway(config, process.env.REGWAY_TEST_LOG ? createLogger('debug') : silentLogger());
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  return {
    ...gw, storage: dir, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`,
    auditPath: config.audit.path ?? join(dir, '_obs', 'audit', 'audit.jsonl'),
    stop: async (o = {}) => { await gw.close(); if (!o.keep && !storage) rmSync(dir, { recursive: true, force: true }); },
  };
}

export const origin = (url: string) => ({ upstreams: [{ url, role: 'origin' as const }] });

export function auditLines(path: string): Record<string, any>[] {
  let text = '';
  try { text = readFileSync(path, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

/**
 * One scripted pull: GET the manifest by tag, then GET the config and every layer, the way a
 * client does. Returns the manifest status (and whether every blob came back 200).
 */
export async function scriptedPull(gatewayUrl: string, image: string, tag: string, headers: Record<string, string> = {}): Promise<{ status: number; blobsOk: boolean }> {
  const r = await fetch(`${gatewayUrl}/v2/${image}/manifests/${tag}`, { headers: { accept: ACCEPT, 'user-agent': 'scripted-pull/1.0', ...headers } });
  const body = await r.text();
  if (r.status !== 200) return { status: r.status, blobsOk: false };
  const m = JSON.parse(body) as { config?: { digest: string }; layers?: { digest: string }[] };
  const digests = [m.config?.digest, ...(m.layers ?? []).map((l) => l.digest)].filter(Boolean) as string[];
  let blobsOk = true;
  for (const d of digests) {
    const b = await fetch(`${gatewayUrl}/v2/${image}/blobs/${d}`, { headers: { 'user-agent': 'scripted-pull/1.0', ...headers } });
    await b.arrayBuffer().catch(() => {});
    if (b.status !== 200) blobsOk = false;
  }
  return { status: r.status, blobsOk };
}

/** Runs `n` tasks with at most `c` at a time. */
export async function pool(n: number, c: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => { while (next < n) await task(next++); }));
}

export interface Receiver { url: string; bodies: { path: string; body: string; headers: Record<string, string | string[] | undefined> }[]; stop(): Promise<void>; failFirst(n: number): void }

/** A webhook / log endpoint started by the test; can answer 503 to the first N requests. */
export async function startReceiver(): Promise<Receiver> {
  const bodies: Receiver['bodies'] = [];
  let fail = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fail > 0) { fail--; res.writeHead(503).end(); return; }
      bodies.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, bodies, failFirst: (n) => { fail = n; },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A TCP endpoint that accepts connections and never answers: the worst kind of dead log server. */
export async function startBlackhole(): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer(() => { /* never respond */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/ingest`, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
