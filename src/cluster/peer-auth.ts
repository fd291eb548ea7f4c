import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Peer requests carry a signature, never the shared secret: `v1 t=<unix s> sig=<hex>` where sig is
 * HMAC-SHA256(peerToken, "v1\n<t>\n<digest>\n<offset>"). Whoever receives one (even an address a
 * forged lease in Redis pointed at) can use it for that blob, from that offset, for WINDOW_S at
 * most; the secret itself never leaves the instance.
 */
export const PEER_AUTH_HEADER = 'x-regway-peer-auth';
const WINDOW_S = 30;

function mac(token: string, t: number, digest: string, offset: number): string {
  return createHmac('sha256', token).update(`v1\n${t}\n${digest}\n${offset}`).digest('hex');
}

export function signPeerRequest(token: string, digest: string, offset: number, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `v1 t=${t} sig=${mac(token, t, digest, offset)}`;
}

export function verifyPeerRequest(token: string, header: string | undefined, digest: string, offset: number, now = Date.now()): boolean {
  const m = /^v1 t=(\d{1,12}) sig=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(now / 1000 - t) > WINDOW_S) return false;
  const want = Buffer.from(mac(token, t, digest, offset), 'hex');
  const got = Buffer.from(m[2]!, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Whether a peer URL (read from Redis, so possibly forged) may be contacted: http(s) only, and a
 * host inside the fleet's peer networks: CIDRs for IP literals, names or `*.suffix` globs for
 * host names. Returns the origin to use (scheme, host, port: never a path or query from Redis).
 */
export function trustedPeerOrigin(url: string, networks: readonly string[]): string | undefined {
  let u: URL;
  try { u = new URL(url); } catch { return undefined; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return networks.some((n) => inNetwork(host, n)) ? u.origin : undefined;
}

function inNetwork(host: string, network: string): boolean {
  const n = network.toLowerCase();
  if (n.includes('/')) return isIP(host) !== 0 && inCidr(host, n);
  if (n.startsWith('*.')) return host.endsWith(n.slice(1)) && host.length > n.length - 1;
  return host === n;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const a = toBytes(ip);
  const b = toBytes(base!);
  if (!a || !b || a.length !== b.length || !Number.isInteger(bits) || bits < 0 || bits > a.length * 8) return false;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((a[byte]! & mask) !== (b[byte]! & mask)) return false;
  }
  return true;
}

function toBytes(ip: string): number[] | undefined {
  if (isIP(ip) === 4) return ip.split('.').map(Number);
  if (isIP(ip) !== 6) return undefined;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  let text = ip;
  let tail: number[] = [];
  if (v4) { tail = v4[1]!.split('.').map(Number); text = ip.slice(0, -v4[1]!.length) + '0:0'; }
  const [head, rest] = text.split('::');
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - r.length).fill('0'), ...r].map((g) => parseInt(g || '0', 16));
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (v4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * The default peer networks when none are configured: where this instance's own advertised URL
 * is. An IPv4 literal: its /16 (pod addresses of one cluster); IPv6: its /64; a host name: that
 * name's siblings (`*.<parent domain>`, e.g. the pods of a headless Service) and itself.
 */
export function defaultPeerNetworks(advertiseUrl: string): string[] {
  const host = new URL(advertiseUrl).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) === 4) return [`${host.split('.').slice(0, 2).join('.')}.0.0/16`];
  if (isIP(host) === 6) return [`${host}/64`];
  const dot = host.indexOf('.');
  return dot > 0 ? [host, `*${host.slice(dot)}`] : [host];
}
