import { z } from 'zod';
import { duration, secret } from './primitives.js';
import { trustedProxiesSchema } from './observability.js';

// Blob redirects (docs/redirects.md): a registry's cached blobs answered with a 307 to the object
// itself (a presigned S3 URL) or to a CDN in front of the bucket. Its own module, so schema.ts only
// gains one property line.

/** SigV4 presigned URLs live at most 7 days; a redirect URL should live minutes. */
const MAX_EXPIRY_MS = 7 * 24 * 3_600_000;

const baseUrl = z.string().refine((u) => {
  try { const p = new URL(u); return (p.protocol === 'http:' || p.protocol === 'https:') && !p.search && !p.hash && !p.username; } catch { return false; }
}, { message: 'must be an http:// or https:// URL without query, fragment or user info (e.g. https://cdn.example.com/regway)' });

const cdnSchema = z.object({
  /** The CDN's URL for the bucket's root: the object key is appended (`<baseUrl>/<key in the bucket>`). */
  baseUrl,
  /**
   * How the URL is signed for the CDN to check: `none` (the CDN checks nothing; only for a CDN
   * that is itself private), `hmac-sha256` (`?expires=<unix s>&signature=<base64url HMAC-SHA256(key, expires + path)>`),
   * `nginx-secure-link` (`?expires=<unix s>&md5=<base64url MD5(expires + path + " " + key)>`, what
   * stock nginx's secure_link_md5 checks).
   */
  signing: z.enum(['none', 'hmac-sha256', 'nginx-secure-link']).default('none'),
  /** The shared signing key, by reference ({ env } or { file }); required unless signing is none. */
  key: secret.optional(),
}).strict().refine((c) => c.signing === 'none' || c.key !== undefined, {
  message: 'a signed CDN URL needs redirect.cdn.key (e.g. { env: REGWAY_CDN_KEY })', path: ['key'],
});

export const redirectSchema = z.object({
  /** presigned: a presigned S3 URL of the object; cdn: a URL under cdn.baseUrl. */
  mode: z.enum(['presigned', 'cdn']),
  /** How long a redirect URL is valid (the client follows it at once; a few minutes covers slow starts and clock skew). */
  expiry: duration.default('5m').refine((ms) => ms >= 1000 && ms <= MAX_EXPIRY_MS, 'must be between 1s and 7d (the longest a presigned URL may live)'),
  cdn: cdnSchema.optional(),
  /** Clients redirected (IPs or CIDRs); default: every client. */
  clientNetworks: trustedProxiesSchema.default(['0.0.0.0/0', '::/0']),
  /** Clients never redirected, even inside clientNetworks (e.g. nodes in the data centre: 10.0.0.0/8). */
  exceptNetworks: trustedProxiesSchema,
  /** Repositories of this registry never redirected (patterns as in access rules: `library/*`, `team/**`). */
  exceptRepositories: z.array(z.string().min(1)).default([]),
}).strict().refine((r) => r.mode !== 'cdn' || r.cdn !== undefined, {
  message: 'redirect.mode is cdn but redirect.cdn is missing: give at least redirect.cdn.baseUrl', path: ['cdn'],
});
export type RedirectConfig = z.infer<typeof redirectSchema>;
