import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { SigningKey } from './signing-key.js';
import type { AccessEntry } from './access.js';

interface TokenSettings {
  issuer: string;
  /** The `aud` of access tokens: the registry service name clients pass as `service`. */
  service: string;
  ttlMs: number;
  refreshTtlMs: number;
}

interface AccessClaims {
  /** User name; empty for an anonymous token. */
  sub: string;
  access: AccessEntry[];
  exp: number;
}

const REFRESH_AUDIENCE_SUFFIX = '#refresh';

/**
 * Docker token authentication: ES256 JWTs with `kid`, the claims distribution checks (iss, sub,
 * aud, exp, nbf, iat, jti, access). Refresh tokens are JWTs of their own audience, so one can
 * never pass as the other. Verification pins the algorithm to ES256: `alg: none` and HMAC
 * tokens signed with the public key are refused by construction.
 */
export class TokenService {
  constructor(readonly key: SigningKey, readonly settings: TokenSettings, private readonly now: () => number = Date.now) {}

  async issue(sub: string, access: AccessEntry[]): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const iat = Math.floor(this.now() / 1000);
    const expiresIn = Math.max(60, Math.floor(this.settings.ttlMs / 1000));
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.settings.issuer).setSubject(sub).setAudience(this.settings.service)
      // nbf a little in the past: a registry whose clock runs behind ours must still accept it.
      .setIssuedAt(iat).setNotBefore(iat - 10).setExpirationTime(iat + expiresIn)
      .setJti(randomBytes(16).toString('hex'))
      .sign(this.key.privateKey);
    return { token, expiresIn, issuedAt: new Date(iat * 1000).toISOString() };
  }

  async issueRefresh(sub: string): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.settings.issuer).setSubject(sub).setAudience(this.settings.issuer + REFRESH_AUDIENCE_SUFFIX)
      .setIssuedAt(iat).setNotBefore(iat - 10).setExpirationTime(iat + Math.floor(this.settings.refreshTtlMs / 1000))
      .setJti(randomBytes(16).toString('hex'))
      .sign(this.key.privateKey);
  }

  /** Verifies an access token; undefined for any invalid one (expired, forged, other audience…). */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const p = await this.check(token, this.settings.service);
    if (!p) return undefined;
    const access = Array.isArray(p.access) ? (p.access as AccessEntry[]).filter(isEntry) : [];
    return { sub: typeof p.sub === 'string' ? p.sub : '', access, exp: p.exp ?? 0 };
  }

  /** Verifies a refresh token; the user it was issued to, or undefined. */
  async verifyRefresh(token: string): Promise<string | undefined> {
    const p = await this.check(token, this.settings.issuer + REFRESH_AUDIENCE_SUFFIX);
    return typeof p?.sub === 'string' && p.sub ? p.sub : undefined;
  }

  private async check(token: string, audience: string) {
    try {
      const { payload } = await jwtVerify(token, this.key.publicKey, {
        algorithms: ['ES256'], issuer: this.settings.issuer, audience, currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      return payload;
    } catch (e) {
      if (e instanceof joseErrors.JOSEError || e instanceof TypeError) return undefined;
      throw e;
    }
  }
}

function isEntry(e: unknown): e is AccessEntry {
  const x = e as AccessEntry;
  return typeof x === 'object' && x !== null && typeof x.type === 'string' && typeof x.name === 'string' && Array.isArray(x.actions);
}
