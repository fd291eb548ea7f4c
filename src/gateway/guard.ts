import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';
import type { LimitsConfig } from '../config/hosted-schema.js';
import type { AccessPolicy, Action, AccessEntry } from '../auth/access.js';
import type { Htpasswd } from '../auth/htpasswd.js';
import type { TokenService } from '../auth/token-service.js';
import { ConcurrencyLimit, LoginBackoff, TokenBuckets, type LoginAttempts, type RateLimiter } from './limits/token-bucket.js';
import { requiredAccess, scopeFor, type Need } from './scope.js';
import { registerTokenRoute } from './token-route.js';

/** Who made a request and what they may do; set on every /v2/ request by the guard. */
export interface Principal {
  /** Signed-in user; undefined for anonymous. */
  user?: string;
  via: 'open' | 'none' | 'basic' | 'bearer';
  can(name: string, action: Action): boolean;
  canCatalog(): boolean;
  /** Whether a repository may appear in this caller's catalog (they may pull it). */
  visible(name: string): boolean;
}

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal }
}

export interface AuthParts {
  htpasswd: Htpasswd;
  policy: AccessPolicy;
  tokens: TokenService;
  /** Token endpoint URL for challenges; default <scheme>://<request host>/token. */
  realm?: string;
}

export type LimiterFactory = (scope: 'ip' | 'user', rate: number, burst: number) => RateLimiter;

/** Limits the fleet shares (cluster): rate limiters and failed-login bookkeeping built over the local ones. */
export interface FleetLimits {
  limiter: LimiterFactory;
  loginAttempts(local: LoginBackoff): LoginAttempts;
}

const OPEN: Principal = { via: 'open', can: () => true, canCatalog: () => true, visible: () => true };

/**
 * Authentication, authorization and limits for every request, in one onRequest hook so nothing
 * runs (no body read, no storage touched) for a request that will be refused:
 *   1. per-IP concurrency and rate (cheapest first);
 *   2. credentials: Basic (htpasswd, with a backoff after failed logins) or Bearer (our tokens);
 *   3. per-user rate;
 *   4. the access the route needs, else 401 with a Bearer challenge naming the scope to ask for,
 *      or 403 when a signed-in user is simply not allowed.
 */
export class Guard {
  private readonly ipRate: RateLimiter;
  private readonly userRate: RateLimiter;
  private readonly concurrency: ConcurrencyLimit;
  readonly backoff: LoginAttempts;

  /** `fleet`: limits shared by every instance (cluster); absent: this process's own. */
  constructor(readonly auth: AuthParts | undefined, limits: LimitsConfig, fleet?: FleetLimits) {
    const limiter: LimiterFactory = fleet?.limiter ?? ((_scope, rate, burst) => new TokenBuckets(rate, burst));
    this.ipRate = limiter('ip', limits.ipRate, limits.ipBurst || Math.ceil(limits.ipRate));
    this.userRate = limiter('user', limits.userRate, limits.userBurst || Math.ceil(limits.userRate));
    this.concurrency = new ConcurrencyLimit(limits.perClientConcurrency);
    const local = new LoginBackoff(limits.failedLogins, limits.failedLoginDelay, limits.failedLoginMaxDelay);
    this.backoff = fleet ? fleet.loginAttempts(local) : local;
  }

  install(app: FastifyInstance): void {
    // Without sign-in and without per-client limits every request passes (no principal means open;
    // user limits need a user, so sign-in): then no hook at all, it cost CPU on every warm hit.
    if (this.auth || this.ipRate.enabled || this.concurrency.enabled) app.addHook('onRequest', async (req, reply) => this.onRequest(req, reply));
    if (this.auth) registerTokenRoute(app, this);
  }

  private async onRequest(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const release = this.concurrency.acquire(req.ip);
    if (!release) throw tooMany(1, 'too many requests in progress from this client');
    reply.raw.once('close', release);
    const wait = this.ipRate.take(req.ip);
    if (wait) throw tooMany(wait, 'request rate limit for this client address reached');
    if (!req.url.startsWith('/v2/')) return;
    const p = await this.authenticate(req);
    req.principal = p;
    if (p.user) {
      req.facts.user = p.user;
      const w = this.userRate.take(p.user);
      if (w) throw tooMany(w, 'request rate limit for this user reached');
    }
    const path = (req.params as { '*'?: string })['*'] ?? '';
    this.authorize(req, p, requiredAccess(req.method, path));
  }

  /** Checks a user's password with the failed-login backoff; throws 429 while backed off. */
  async checkPassword(ip: string, user: string, password: string): Promise<boolean> {
    const wait = await this.backoff.wait(ip, user);
    if (wait) throw tooMany(wait, 'too many failed logins; wait before trying again');
    const ok = await this.auth!.htpasswd.verify(user, password);
    if (ok) await this.backoff.succeeded(ip, user); else await this.backoff.failed(ip, user);
    return ok;
  }

  private async authenticate(req: FastifyRequest): Promise<Principal> {
    const a = this.auth;
    if (!a) return OPEN;
    const h = req.headers.authorization;
    const policyFor = (user: string | undefined, via: Principal['via']): Principal => ({
      user, via,
      can: (name, action) => a.policy.can({ user }, name, action),
      canCatalog: () => a.policy.canCatalog({ user }),
      visible: (name) => a.policy.can({ user }, name, 'pull'),
    });
    if (!h) return policyFor(undefined, 'none');
    const basic = parseBasic(h);
    if (basic) {
      if (!(await this.checkPassword(req.ip, basic.user, basic.password))) {
        throw this.unauthorized(req, undefined, 'invalid user name or password');
      }
      return policyFor(basic.user, 'basic');
    }
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(h);
    if (!bearer) throw this.unauthorized(req, undefined, 'unsupported Authorization scheme');
    const claims = await a.tokens.verify(bearer[1]!);
    if (!claims) throw this.unauthorized(req, undefined, 'invalid or expired token', 'invalid_token');
    const user = claims.sub || undefined;
    const has = (type: string, name: string, action: string) => claims.access.some((e: AccessEntry) => e.type === type && e.name === name && (e.actions.includes(action) || e.actions.includes('*')));
    return {
      user, via: 'bearer',
      can: (name, action) => has('repository', name, action),
      canCatalog: () => has('registry', 'catalog', '*'),
      // The catalog lists what the token's user may pull now, not only what the token names.
      visible: (name) => a.policy.can({ user }, name, 'pull'),
    };
  }

  private authorize(req: FastifyRequest, p: Principal, need: Need): void {
    if (need.kind === 'none' || p.via === 'open') return;
    if (need.kind === 'ping') {
      // /v2/ is how clients discover auth and how `docker login` checks a password: it must
      // challenge anyone who presented nothing, even when anonymous pulls are allowed.
      if (p.via === 'none') throw this.unauthorized(req, need, 'authentication required');
      return;
    }
    const ok = need.kind === 'catalog' ? p.canCatalog() : p.can(need.name, need.action);
    if (ok) return;
    const policyAllows = need.kind === 'catalog' ? this.auth!.policy.canCatalog({ user: p.user }) : this.auth!.policy.can({ user: p.user }, need.name, need.action);
    if (p.user && !policyAllows) {
      throw new RegistryError('DENIED', `user ${p.user} may not ${need.kind === 'catalog' ? 'list the catalog' : `${need.action} ${need.name}`}`);
    }
    throw this.unauthorized(req, need, 'authentication required', p.via === 'bearer' ? 'insufficient_scope' : undefined);
  }

  /** 401 with the spec's Bearer challenge: realm, service and the scope the request needs. */
  unauthorized(req: FastifyRequest, need: Need | undefined, message: string, error?: string): RegistryError {
    const parts = [`realm="${this.realm(req)}"`, `service="${this.auth!.tokens.settings.service}"`];
    const scope = need ? scopeFor(need) : undefined;
    if (scope) parts.push(`scope="${scope}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError('UNAUTHORIZED', message, {}, { headers: { 'www-authenticate': `Bearer ${parts.join(',')}` } });
  }

  private realm(req: FastifyRequest): string {
    return this.auth!.realm ?? `${req.protocol}://${req.host}/token`;
  }
}

export function tooMany(seconds: number, message: string): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', message, { retryAfter: seconds }, { headers: { 'retry-after': String(seconds) } });
}

export function parseBasic(h: string): { user: string; password: string } | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i > 0 ? { user: text.slice(0, i), password: text.slice(i + 1) } : undefined;
}
