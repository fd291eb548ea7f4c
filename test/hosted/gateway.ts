// A regway gateway with hosted repositories (and optionally auth, TLS, limits) on 127.0.0.1:0,
// for the hosted, sign-in and limits integration tests. test/helpers/gateway.ts covers the pull-through gateway;
// this one takes a whole config section so each test can switch on what it exercises.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { applyOverrides } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { createLogger, silentLogger } from '../../src/obs/logger.js';

export interface HostedGateway extends Gateway {
  url: string;
  host: string;
  port: number;
  storage: string;
  stop(opts?: { keepStorage?: boolean }): Promise<void>;
}

export async function startHostedGateway(opts: { config?: Partial<ConfigInput>; storage?: string; host?: string; port?: number } = {}): Promise<HostedGateway> {
  const storage = opts.storage ?? mkdtempSync(join(tmpdir(), 'regway-hosted-'));
  const config = applyOverrides({
    listen: '127.0.0.1:0',
    storage: { path: storage },
    registries: {},
    log: { level: process.env.REGWAY_TEST_LOG ? 'debug' : 'silent' },
    ...opts.config,
    hosted: { repositories: ['local/**'], ...(opts.config?.hosted ?? {}) },
  }, {});
  const log = process.env.REGWAY_TEST_LOG ? createLogger('debug') : silentLogger();
  const gw = await createGateway(config, log);
  const host = opts.host ?? '127.0.0.1';
  await gw.app.listen({ host, port: opts.port ?? 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  const scheme = config.tls ? 'https' : 'http';
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return {
    ...gw, port, storage,
    url: `${scheme}://${hostPort}`,
    host: hostPort,
    stop: async (s = {}) => {
      await gw.close();
      if (!s.keepStorage && !opts.storage) rmSync(storage, { recursive: true, force: true });
    },
  };
}
