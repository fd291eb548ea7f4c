// Scenario: the upstream is far: it serves from a network namespace whose only link to this host is
// a veth pair shaped with `tc tbf` (netem is not in this kernel, so the link has a rate, not a
// delay). N clients pull the image at once through a fresh regway and a fresh distribution proxy;
// the physical limit is the image's bytes over the link's rate (a gateway must fetch them once).
// Root only: without it the scenario is skipped and says so.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REGISTRY_BIN, parseAccessLog, type Distribution } from '../test/helpers/distribution.js';
import { canUseNetns, createNetns } from '../test/helpers/netns.js';
import { spawnDaemon, stopDaemon } from '../test/helpers/proc.js';
import { waitForHttp } from '../test/helpers/ports.js';
import { coldPull } from './cold-pull.js';
import { startDistributionProxy, startRegway, type Upstream } from './lib/peers.js';
import type { ColdPull } from './lib/table.js';

export interface FarUpstream {
  rateMbit: number;
  /** Image blob bytes over the link's rate: no gateway can pull the image faster once. */
  limitMs: number;
  regway: ColdPull;
  distribution: ColdPull;
}

/** Runs the scenario, or returns why it cannot run here. */
export async function farUpstream(up: Upstream, clients: number, parallel: number, rateMbit: number, say: (m: string) => void): Promise<FarUpstream | { skipped: string }> {
  if (!canUseNetns()) return { skipped: 'needs root and iproute2 (ip netns)' };
  if (spawnSync('tc', ['-V']).status !== 0) return { skipped: 'needs tc (iproute2)' };
  const ns = createNetns();
  const stops: (() => Promise<void>)[] = [];
  try {
    const tc = spawnSync('ip', ['netns', 'exec', ns.name, 'tc', 'qdisc', 'add', 'dev', ns.nsIf, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '256kb', 'latency', '100ms'], { encoding: 'utf8' });
    if (tc.status !== 0) return { skipped: `tc tbf failed: ${tc.stderr.trim()}` };
    // A second distribution inside the namespace, serving the same storage as the local upstream.
    const cfg = {
      version: 0.1,
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: join(up.dist.dir, 'data') }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `${ns.nsIp}:5000`, secret: randomBytes(16).toString('hex') },
    };
    await writeFile(join(up.dist.dir, 'far.yml'), stringify(cfg));
    const accessLogFile = join(up.dist.dir, 'far-access.log');
    const [cmd, args] = ns.wrap(REGISTRY_BIN, ['serve', join(up.dist.dir, 'far.yml')]);
    const d = spawnDaemon(cmd, args, { stdoutFile: accessLogFile, stderrFile: join(up.dist.dir, 'far-stderr.log'), cwd: up.dist.dir });
    stops.push(() => stopDaemon(d, 5_000));
    const url = `http://${ns.nsIp}:5000`;
    await waitForHttp(`${url}/v2/`, 15_000);
    const far = { ...up.dist, url, host: `${ns.nsIp}:5000`, accessLogFile, accessLog: async () => parseAccessLog(await readFile(accessLogFile, 'utf8')) } as Distribution;
    const farUp: Upstream = { ...up, dist: far };
    const imageBytes = up.image.config.size + up.image.layers.reduce((a, l) => a + l.size, 0);
    const limitMs = (imageBytes * 8) / (rateMbit * 1e6) * 1000;
    say(`far upstream (${rateMbit} Mbit/s, limit ${(limitMs / 1000).toFixed(1)} s): ${clients} clients through regway`);
    const rw = await startRegway(far);
    stops.push(() => rw.stop());
    const regway = await coldPull(rw, farUp, clients, parallel);
    say(`far upstream: ${clients} clients through distribution proxy`);
    const dp = await startDistributionProxy(url);
    stops.push(() => dp.stop());
    const distribution = await coldPull(dp, farUp, clients, parallel);
    return { rateMbit, limitMs, regway, distribution };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    ns.stop();
  }
}
