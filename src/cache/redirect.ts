import { BlockList, isIP } from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import type { RedirectConfig } from '../config/redirect-schema.js';
import { matchesAny, repoPattern, type RepoPattern } from '../oci/patterns.js';
import type { Digest } from '../oci/digest.js';

/** Where a redirected client fetches a blob: the object store itself, or a CDN in front of it. */
export type RedirectTarget = 'presigned' | 'cdn';

/** The store's side of a redirect: a presigned URL of a blob, or its key in the bucket (BlobStore over S3). */
export interface ObjectUrls {
  presign(d: Digest, expiresInSec: number): Promise<string>;
  bucketKey(d: Digest): string;
}

/** A registry's redirect settings with the CDN key resolved (at the edge, by the composition root). */
export type RedirectSettings = Omit<RedirectConfig, 'cdn'> & { cdn?: { baseUrl: string; signing: CdnSigning; key?: string } };
export type CdnSigning = 'none' | 'hmac-sha256' | 'nginx-secure-link';

/** IPv4 clients on a dual-stack socket show as ::ffff:a.b.c.d; rules are written for a.b.c.d. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [ip, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type); else list.addSubnet(ip, Number(bits), type);
  }
  return list;
}

function contains(list: BlockList, ip: string): boolean {
  const v = isIP(ip);
  return v !== 0 && list.check(ip, v === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Which blob GETs of a registry are redirected, as a pure function of the client's address and
 * the repository: inside clientNetworks, outside exceptNetworks, and not an excepted repository.
 * An address that does not parse is never redirected (it is served, as without redirects).
 */
export class RedirectPolicy {
  private readonly include: BlockList;
  private readonly exclude: BlockList;
  private readonly repos: RepoPattern[];

  constructor(cfg: Pick<RedirectConfig, 'clientNetworks' | 'exceptNetworks' | 'exceptRepositories'>) {
    this.include = blockList(cfg.clientNetworks);
    this.exclude = blockList(cfg.exceptNetworks);
    this.repos = cfg.exceptRepositories.map(repoPattern);
  }

  applies(clientIp: string, repository: string): boolean {
    const ip = plainIp(clientIp);
    return contains(this.include, ip) && !contains(this.exclude, ip) && !matchesAny(this.repos, repository);
  }
}

const b64url = (b: Buffer) => b.toString('base64url');

/**
 * A CDN URL for an object key, signed for the CDN to check: the signature covers the expiry and
 * the whole URL path, so neither can be changed without the key. `expires` is a Unix time in seconds.
 *   hmac-sha256:       ?expires=E&signature=base64url(HMAC-SHA256(key, E + path))
 *   nginx-secure-link: ?expires=E&md5=base64url(MD5(E + path + " " + key)) — nginx's
 *                      `secure_link $arg_md5,$arg_expires; secure_link_md5 "$secure_link_expires$uri <key>";`
 */
export function cdnUrl(baseUrl: string, bucketKey: string, signing: CdnSigning, key: string | undefined, expires: number): string {
  const base = new URL(baseUrl);
  // Keys are [A-Za-z0-9._:@+-/] (store/driver.ts): nothing to escape, so $uri (decoded) equals the path signed.
  const path = `${base.pathname.replace(/\/+$/, '')}/${bucketKey}`;
  const origin = `${base.protocol}//${base.host}`;
  if (signing === 'none') return `${origin}${path}`;
  if (key === undefined) throw new Error('a signed CDN URL needs a key');
  if (signing === 'hmac-sha256') return `${origin}${path}?expires=${expires}&signature=${b64url(createHmac('sha256', key).update(`${expires}${path}`).digest())}`;
  return `${origin}${path}?expires=${expires}&md5=${b64url(createHash('md5').update(`${expires}${path} ${key}`).digest())}`;
}

/** Checks a URL cdnUrl signed (for doctor, tests and anyone writing a CDN edge function): 'ok', 'expired' or 'bad-signature'. */
export function checkCdnUrl(url: string, signing: Exclude<CdnSigning, 'none'>, key: string, nowSec: number): 'ok' | 'expired' | 'bad-signature' {
  const u = new URL(url);
  const expires = Number(u.searchParams.get('expires'));
  const again = cdnUrl(`${u.protocol}//${u.host}`, u.pathname.slice(1), signing, key, expires);
  if (!Number.isInteger(expires) || again !== url) return 'bad-signature';
  return expires < nowSec ? 'expired' : 'ok';
}

/** A registry's redirects: who is redirected (the policy) and where to (a presigned or CDN URL). */
export class Redirector {
  readonly target: RedirectTarget;
  private readonly policy: RedirectPolicy;

  constructor(private readonly cfg: RedirectSettings, private readonly urls: ObjectUrls, private readonly now: () => number = Date.now) {
    this.target = cfg.mode;
    this.policy = new RedirectPolicy(cfg);
  }

  applies(clientIp: string, repository: string): boolean { return this.policy.applies(clientIp, repository); }

  /** The blob's URL, valid for `expiry` from now. */
  async location(d: Digest): Promise<string> {
    const seconds = Math.max(1, Math.round(this.cfg.expiry / 1000));
    if (this.cfg.mode === 'presigned') return this.urls.presign(d, seconds);
    const cdn = this.cfg.cdn!;
    return cdnUrl(cdn.baseUrl, this.urls.bucketKey(d), cdn.signing, cdn.key, Math.floor(this.now() / 1000) + seconds);
  }
}
