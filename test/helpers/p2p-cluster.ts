// A simulated cluster for peer-to-peer tests and the bench: a bridge on this host, N network
// namespaces on it ("nodes"), each joined by a veth pair whose both ends are shaped with `tc tbf`
// (the node's uplink and downlink; netem is not in this kernel: a rate, not a delay), a real
// distribution on the bridge address, a central regway (the scheduler) in a namespace of its own,
// and a regway in node mode in each node namespace. Needs root and iproute2; stop() removes it all.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { request } from 'undici';
import { startDistribution, type Distribution } from './distribution.js';
import { makeTempDir, onExit, removeTempDir, run, spawnDaemon, stopDaemon, killTree, type Daemon } from './proc.js';
import { waitFor } from './wait.js';
import { skopeoCopy, ociLayoutDigest } from './clients.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const PEER_TOKEN = 'p2p-test-peer-token-0123456789';
const PORT = 5000;

export interface SimNs {
  name: string;
  ip: string;
  /** The namespace's end of its veth pair. */
  dev: string;
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Bytes this namespace sent on its link. */
  txBytes(): number;
}

export interface SimRegway {
  ns: SimNs;
  url: string;
  dir: string;
  logFile: string;
  configFile: string;
  pid: number;
  stop(): Promise<void>;
  kill(): void;
  log(): string;
}

function sh(cmd: string, args: string[], okToFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !okToFail) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Whether tc tbf works here (root, iproute2, the sch_tbf module). */
export function canShape(): boolean {
  return process.getuid?.() === 0 && spawnSync('tc', ['-V']).status === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
}

export interface Bridge {
  ip: string;
  namespaces: SimNs[];
  stop(): void;
}

/** `count` namespaces on one bridge, every link shaped to `rateMbit` each way. */
export function createBridge(count: number, rateMbit: number): Bridge {
  const tag = `${process.pid % 10_000}${Math.floor(Math.random() * 10)}`;
  const br = `rwb${tag}`;
  const used = sh('ip', ['-o', '-4', 'addr']);
  let subnet = 100 + (process.pid % 100);
  while (used.includes(`10.82.${subnet}.1/`)) subnet = (subnet + 1) % 250;
  const ip = `10.82.${subnet}.1`;
  const made: { ns: string; hostIf: string }[] = [];
  const stop = () => {
    for (const m of made) { sh('ip', ['netns', 'del', m.ns], true); sh('ip', ['link', 'del', m.hostIf], true); }
    sh('ip', ['link', 'del', br], true);
  };
  const forget = onExit(stop);
  const tbf = (dev: string) => ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '256kb', 'latency', '50ms'];
  const namespaces: SimNs[] = [];
  try {
    sh('ip', ['link', 'add', br, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${ip}/24`, 'dev', br]);
    sh('ip', ['link', 'set', br, 'up']);
    for (let i = 0; i < count; i++) {
      const name = `rwp${tag}n${i}`;
      const hostIf = `rwh${tag}n${i}`;
      const dev = `rwv${tag}n${i}`;
      made.push({ ns: name, hostIf });
      const nsIp = `10.82.${subnet}.${i + 10}`;
      sh('ip', ['netns', 'add', name]);
      sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', dev]);
      sh('ip', ['link', 'set', dev, 'netns', name]);
      sh('ip', ['link', 'set', hostIf, 'master', br]);
      sh('ip', ['link', 'set', hostIf, 'up']);
      const inNs = (args: string[]) => sh('ip', ['netns', 'exec', name, ...args]);
      inNs(['ip', 'addr', 'add', `${nsIp}/24`, 'dev', dev]);
      inNs(['ip', 'link', 'set', dev, 'up']);
      inNs(['ip', 'link', 'set', 'lo', 'up']);
      // Uplink (what the node sends) and downlink (what the bridge sends it).
      inNs(['tc', ...tbf(dev)]);
      sh('tc', tbf(hostIf));
      namespaces.push({
        name, ip: nsIp, dev,
        wrap: (cmd, args) => ['ip', ['netns', 'exec', name, cmd, ...args]],
        txBytes: () => Number(inNs(['cat', `/sys/class/net/${dev}/statistics/tx_bytes`]).trim()),
      });
    }
  } catch (e) {
    stop();
    forget();
    throw e;
  }
  return { ip, namespaces, stop: () => { stop(); forget(); } };
}

/** A regway (`serve`) inside a namespace, listening on its address and loopback port 5000. */
export async function startRegwayIn(ns: SimNs, config: Record<string, unknown>, opts: { built?: boolean } = {}): Promise<SimRegway> {
  const dir = makeTempDir('p2pnode');
  const file = join(dir, 'regway.yaml');
  writeFileSync(file, stringify({ ...config, listen: `0.0.0.0:${PORT}`, storage: { path: join(dir, 'data') }, log: { level: 'info' } }));
  const logFile = join(dir, 'regway.log');
  const node = opts.built ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const [cmd, args] = ns.wrap(process.execPath, [...node, 'serve', '--config', file]);
  const d: Daemon = spawnDaemon(cmd, args, { stdoutFile: logFile, cwd: ROOT, env: { ...process.env } });
  const url = `http://${ns.ip}:${PORT}`;
  const healthy = async () => { const r = await request(`${url}/healthz`); await r.body.dump(); return r.statusCode === 200; };
  const up = await waitFor(async () => (d.hasExited() ? 'exited' : (await healthy().catch(() => false)) && 'up'), `regway in ${ns.name} to answer /healthz`, 60_000).catch((e: Error) => e.message);
  if (up !== 'up') {
    killTree(d.pid);
    throw new Error(`regway in ${ns.name} did not start (${up}):\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
  }
  return {
    ns, url, dir, logFile, configFile: file, pid: d.pid,
    stop: async () => { await stopDaemon(d, 5000); },
    kill: () => killTree(d.pid, 'SIGKILL'),
    log: () => readFileSync(logFile, 'utf8'),
  };
}

export interface Cluster {
  bridge: Bridge;
  dist: Distribution;
  gateway: SimRegway;
  nodes: SimRegway[];
  /** The registry host nodes and the gateway route to (the distribution). */
  registry: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  rateMbit: number;
  maxChildren: number;
  /** Node mode (p2p); false: every node is a plain regway pulling from the gateway. */
  p2p?: boolean;
  /** Give nodes the distribution as a second upstream (used when the gateway is down). */
  directUpstream?: boolean;
  /** Override a node's peer token (a node outside the cluster). */
  tokenFor?: (i: number) => string;
  /** Advertised URL override (e.g. a corrupting proxy in front of a node). */
  advertiseFor?: (i: number, ns: SimNs) => string | undefined;
  stallTimeout?: string;
  built?: boolean;
}

/** The gateway's and the nodes' configs, around one distribution on the bridge address. */
export async function startCluster(o: ClusterOptions, seed: (dist: Distribution) => Promise<void>): Promise<Cluster> {
  const bridge = createBridge(o.nodes + 1, o.rateMbit);
  const started: SimRegway[] = [];
  let dist: Distribution | undefined;
  try {
    dist = await startDistribution({ host: bridge.ip, logAccess: false });
    await seed(dist);
    const registry = dist.host;
    const [gwNs, ...nodeNs] = bridge.namespaces as [SimNs, ...SimNs[]];
    const gateway = await startRegwayIn(gwNs, {
      defaultRegistry: registry,
      registries: { [registry]: { upstreams: [{ url: dist.url }] } },
      p2p: { peerToken: PEER_TOKEN },
    }, { built: o.built });
    started.push(gateway);
    const nodes = await Promise.all(nodeNs.map((ns, i) => startRegwayIn(ns, {
      defaultRegistry: registry,
      registries: { [registry]: { upstreams: [{ url: gateway.url }, ...(o.directUpstream ? [{ url: dist!.url }] : [])] } },
      health: { failureThreshold: 1, openFor: '30s', probeInterval: '0s' },
      ...(o.p2p === false ? {} : {
        p2p: {
          peerToken: o.tokenFor?.(i) ?? PEER_TOKEN, scheduler: gateway.url, advertiseUrl: o.advertiseFor?.(i, ns) ?? `http://${ns.ip}:${PORT}`,
          maxChildren: o.maxChildren, ...(o.stallTimeout ? { stallTimeout: o.stallTimeout } : {}),
          peerNetworks: [`${bridge.ip.split('.').slice(0, 3).join('.')}.0/24`],
        },
      }),
    }, { built: o.built })));
    started.push(...nodes);
    const d = dist;
    return {
      bridge, dist: d, gateway, nodes, registry,
      stop: async () => {
        await Promise.all(started.map((s) => s.stop().catch(() => {})));
        for (const s of started) removeTempDir(s.dir);
        await d.stop();
        bridge.stop();
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
    await dist?.stop();
    bridge.stop();
    throw e;
  }
}

/** `skopeo copy` of an image from the node's own regway (loopback inside its namespace) to an OCI layout; returns its manifest digest. */
export async function pullOnNode(ns: SimNs, image: string, timeoutMs = 300_000): Promise<string> {
  const dir = makeTempDir('p2ppull');
  try {
    mkdirSync(join(dir, 'oci'));
    const r = await skopeoCopy(`docker://127.0.0.1:${PORT}/${image}`, `oci:${join(dir, 'oci')}:t`, { wrap: ns.wrap, timeoutMs });
    if (r.code !== 0) throw new Error(`skopeo in ${ns.name} failed (${r.code}): ${r.stderr.slice(-2000)}`);
    return ociLayoutDigest(join(dir, 'oci'), 't');
  } finally {
    removeTempDir(dir);
  }
}

/** A blob through the node's regway with curl inside its namespace: its sha256, or the curl failure. */
export async function curlBlobDigest(ns: SimNs, name: string, digest: string): Promise<string> {
  const [cmd, args] = ns.wrap('bash', ['-c', `set -o pipefail; curl -sSf http://127.0.0.1:${PORT}/v2/${name}/blobs/${digest} | sha256sum`]);
  const r = await run(cmd, args, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`curl in ${ns.name} failed (${r.code}): ${r.stderr}`);
  return `sha256:${r.stdout.split(' ')[0]}`;
}

/** The node's /-/status p2p section (its byte counters). */
export async function p2pStatus(url: string): Promise<{ role: string; received: Record<string, number>; parentChanges: number; quarantines: number; schedulerErrors: number }> {
  const r = await request(`${url}/-/status`);
  const body = await r.body.json() as { p2p: never };
  return body.p2p;
}
