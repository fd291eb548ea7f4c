/**
 * A whole gateway for unit tests: in memory (storage.driver: memory), no listening socket
 * (requests go through `app.inject()`), no background probes (they would add upstream requests
 * the tests count), logs kept for assertions. The tests see the gateway only through this file,
 * `app.inject()` and the config: when the composition root moves, only the import below changes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { createGateway, type Gateway } from '../server/gateway.js';
import { applyOverrides } from '../config/load.js';
import type { ConfigInput } from '../config/schema.js';
import { createLogger } from '../obs/logger.js';

type RegistryInput = NonNullable<ConfigInput['registries']>[string];
type UpstreamInput = RegistryInput['upstreams'][number];

export interface UnitGateway extends Gateway {
  /** Every log line at warn and above (debug with REGWAY_TEST_LOG), parsed. */
  logs: { level: number; msg: string; [k: string]: unknown }[];
  /** GET/HEAD/... through app.inject(). */
  call(method: string, url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  stop(): Promise<void>;
}

/**
 * A registry whose upstreams are `urls` in order: mirrors first, the last one the origin. Short
 * timeouts, so a stalled upstream fails in a unit test's time, not a minute.
 */
export function upstreams(urls: string[], extra: Partial<RegistryInput> = {}, upstream: Partial<UpstreamInput> = {}): RegistryInput {
  return {
    ...extra,
    upstreams: urls.map((url, i) => ({
      url, role: i === urls.length - 1 ? 'origin' as const : 'mirror' as const,
      timeouts: { connect: '2s', headers: '5s', idle: '2s' }, ...upstream,
    })),
  };
}

export async function unitGateway(input: ConfigInput): Promise<UnitGateway> {
  // The instance's own files (SLO state, token key) still go under storage.path: a private folder.
  const dir = mkdtempSync(join(tmpdir(), 'regway-unit-'));
  const logs: UnitGateway['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as UnitGateway['logs'][number]);
      if (process.env.REGWAY_TEST_LOG) process.stderr.write(chunk);
      done();
    },
  });
  const level = process.env.REGWAY_TEST_LOG ? 'debug' : 'warn';
  const config = applyOverrides({
    listen: '127.0.0.1:0',
    ...input,
    storage: { driver: 'memory', path: dir, ...(input.storage ?? {}) },
    health: { probeInterval: 0, ...(input.health ?? {}) },
    audit: { path: '', ...(input.audit ?? {}) },
    log: { level },
  }, {});
  const gw = await createGateway(config, createLogger(level, sink));
  return {
    ...gw,
    logs,
    call: (method, url, headers = {}) => gw.app.inject({ method: method as 'GET', url, headers }),
    stop: async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
