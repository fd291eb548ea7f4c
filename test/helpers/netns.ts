// A network namespace joined to this host by a veth pair, so a server can listen on a real,
// non-loopback address (10.x) that this host's clients reach: what a lab registry on another
// machine looks like, without leaving the box. Needs root and iproute2; always removed in stop().
import { spawnSync } from 'node:child_process';
import { onExit } from './proc.js';

export interface Netns {
  name: string;
  /** This host's end of the veth pair. */
  hostIp: string;
  /** The address inside the namespace: listen here, connect here from the host. */
  nsIp: string;
  /** The namespace's end of the veth pair (shape its egress with tc to slow what the host downloads). */
  nsIf: string;
  /** Wraps a command so it runs inside the namespace (`ip netns exec NAME cmd args...`). */
  wrap(cmd: string, args: string[]): [string, string[]];
  stop(): void;
}

function ip(args: string[], okToFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !okToFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

/** Whether this process may create namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
}

/** A /30 in 10.79.0.0/16 no interface of this host already uses. */
function freeSubnet(): number {
  const used = spawnSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' }).stdout;
  for (let i = 0; i < 16_384; i++) {
    const n = (process.pid * 4 + i * 4) % 65_536;
    if (!used.includes(`10.79.${n >> 8}.${(n & 255) + 1}/`)) return n;
  }
  throw new Error('no free /30 in 10.79.0.0/16');
}

export function createNetns(): Netns {
  const tag = `${process.pid % 100_000}${Math.floor(Math.random() * 100)}`;
  const name = `regway-t${tag}`;
  const hostIf = `rwh${tag}`;
  const nsIf = `rwn${tag}`;
  const n = freeSubnet();
  const hostIp = `10.79.${n >> 8}.${(n & 255) + 1}`;
  const nsIp = `10.79.${n >> 8}.${(n & 255) + 2}`;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    // Deleting the namespace kills its end of the pair, and with it the host end.
    ip(['netns', 'del', name], true);
    ip(['link', 'del', hostIf], true);
  };
  const forget = onExit(stop);
  try {
    ip(['netns', 'add', name]);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    ip(['link', 'set', nsIf, 'netns', name]);
    ip(['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf]);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up']);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (e) {
    stop();
    forget();
    throw e;
  }
  return {
    name, hostIp, nsIp, nsIf,
    wrap: (cmd, args) => ['ip', ['netns', 'exec', name, cmd, ...args]],
    stop: () => { stop(); forget(); },
  };
}
