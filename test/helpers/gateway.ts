// Starts a regway gateway in-process on 127.0.0.1:0 with local upstreams, for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { applyOverrides } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { createLogger, silentLogger } from '../../src/obs/logger.js';

export interface TestGateway extends Gateway {
  url: string;
  host: string;
  port: number;
  storage: string;
  stop(): Promise<void>;
}

/** `registries` maps a registry name to its upstream URLs (priority order) or a full registry config. */
export async function startGateway(opts: {
  registries: Record<string, string[] | NonNullable<ConfigInput['registries']>[string]>;
  storage?: string;
  maxSize?: string | number;
  tagTtl?: string;
  defaultRegistry?: string;
  keepStorage?: boolean;
  /** Pull policies (docs/policy.md). */
  policies?: ConfigInput['policies'];
}): Promise<TestGateway> {
  const storage = opts.storage ?? mkdtempSync(join(tmpdir(), 'regway-gw-'));
  const registries: NonNullable<ConfigInput['registries']> = {};
  for (const [k, v] of Object.entries(opts.registries)) {
    registries[k] = Array.isArray(v) ? { upstreams: v.map((url, i) => ({ url, role: i === v.length - 1 ? 'origin' as const : 'mirror' as const })) } : v;
  }
  const config = applyOverrides({
    listen: '127.0.0.1:0',
    storage: { path: storage, maxSize: opts.maxSize ?? 0 },
    cache: { tagTtl: opts.tagTtl ?? '5m' },
    defaultRegistry: opts.defaultRegistry ?? 'docker.io',
    registries,
    ...(opts.policies ? { policies: opts.policies } : {}),
    log: { level: process.env.REGWAY_TEST_LOG ? 'debug' : 'silent' },
  }, {});
  const log = process.env.REGWAY_TEST_LOG ? createLogger('debug') : silentLogger();
  const gw = await createGateway(config, log);
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  return {
    ...gw, port, storage,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    stop: async () => {
      await gw.close();
      if (!opts.keepStorage && !opts.storage) rmSync(storage, { recursive: true, force: true });
    },
  };
}
