import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';
import { isValidHost } from '../oci/reference.js';
import { accessName, sameRepo, type RepoKey } from '../oci/repo.js';
import { requiredAction } from '../oci/api-path.js';
import type { ApiRequest, RepoRouter } from '../oci/addressing.js';
import type { LimitsConfig } from '../config/hosted-schema.js';
import type { AccessPolicy, Action, AccessEntry } from '../auth/access.js';
import type { Htpasswd } from '../auth/htpasswd.js';
import type { TokenService } from '../auth/token-service.js';
import { ConcurrencyLimit, LoginBackoff, TokenBuckets, type LoginAttempts, type RateLimiter } from '../limits/token-bucket.js';
import './parse.js';

/** Who made a request and what they may do; set on every /v2/ request by the guard. */
export interface Principal {
  /** Signed-in user; undefined for anonymous. */
  user?: string;
  via: 'open' | 'none' | 'basic' | 'bearer';
  /** Decided on the routed repository, never on the name as the client wrote it. */
  can(key: RepoKey, action: Action): boolean;
  canCatalog(): boolean;
  /** Whether a repository may appear in this caller's catalog (they may pull it). */
  visible(key: RepoKey): boolean;
}

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal }
}

/** The auth state of one configuration; reload swaps it as a whole, together with the router. */
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

/** What the guard reads per request; swapped as one on reload. */
export interface GuardState {
  auth?: AuthParts;
  router: RepoRouter;
}

const OPEN: Principal = { via: 'open', can: () => true, canCatalog: () => true, visible: () => true };
/** The failed-login budget of a client across every user name (an invalid name can never collide). */
const ANY_USER = '*';

/** Paths that name images and clients: status page, SLO and alert views, metrics. */
function isObservability(url: string): boolean {
  return url === '/metrics' || url.startsWith('/metrics?') || (url.startsWith('/-/') && !url.startsWith('/-/peer/'));
}

/**
 * Authentication, authorization and limits for every request, in one onRequest hook so nothing
 * runs (no body read, no storage touched, no `100 Continue` sent) for a request that will be refused:
 *   1. per-IP concurrency and rate (cheapest first);
 *   2. credentials: Basic (htpasswd, with a backoff after failed logins) or Bearer (our tokens);
 *   3. per-user rate;
 *   4. the access the route needs on the routed repository (req.api, parsed once), else 401 with
 *      a Bearer challenge naming that repository, or 403 when a signed-in user is simply not allowed.
 */
export class Guard {
  private ipRate!: RateLimiter;
  private userRate!: RateLimiter;
  private concurrency!: ConcurrencyLimit;
  backoff!: LoginAttempts;
  /** Failed logins of one client across user names (random names must not dodge the backoff). */
  private clientBackoff!: LoginAttempts;
  /** Whether the onRequest hook is installed: decided at start, so enabling auth or limits needs a restart. */
  private installed = false;
  /** (address, user) pairs that signed in successfully, most recent last; bounded. */
  private readonly signedIn = new Set<string>();

  /** `fleet`: limits shared by every instance (cluster); absent: this process's own. */
  constructor(private readonly state: () => GuardState, limits: LimitsConfig, private readonly fleet?: FleetLimits) {
    this.configure(limits);
  }

  get auth(): AuthParts | undefined { return this.state().auth; }
  get router(): RepoRouter { return this.state().router; }

  /** (Re)builds the limiters from the limits section; counts kept by old limiters are dropped. */
  configure(limits: LimitsConfig): void {
    const limiter: LimiterFactory = this.fleet?.limiter ?? ((_scope, rate, burst) => new TokenBuckets(rate, burst));
    this.ipRate = limiter('ip', limits.ipRate, limits.ipBurst || Math.ceil(limits.ipRate));
    this.userRate = limiter('user', limits.userRate, limits.userBurst || Math.ceil(limits.userRate));
    this.concurrency = new ConcurrencyLimit(limits.perClientConcurrency);
    const perUser = new LoginBackoff(limits.failedLogins, limits.failedLoginDelay, limits.failedLoginMaxDelay);
    const perClient = new LoginBackoff(limits.failedLoginsPerClient, limits.failedLoginDelay, limits.failedLoginMaxDelay);
    this.backoff = this.fleet ? this.fleet.loginAttempts(perUser) : perUser;
    this.clientBackoff = this.fleet ? this.fleet.loginAttempts(perClient) : perClient;
  }

  /** Whether a new limits section could apply without a restart (the hook exists when it needs one). */
  canApply(limits: LimitsConfig, authOn: boolean): boolean {
    const needsHook = authOn || limits.ipRate > 0 || limits.perClientConcurrency > 0;
    return this.installed || !needsHook;
  }

  install(app: FastifyInstance, register: (app: FastifyInstance, guard: Guard) => void): void {
    // Without sign-in and without per-client limits every request passes (no principal means open;
    // user limits need a user, so sign-in): then no hook at all, it cost CPU on every warm hit.
    if (this.auth || this.ipRate.enabled || this.concurrency.enabled) {
      this.installed = true;
      app.addHook('onRequest', async (req, reply) => this.onRequest(req, reply));
    }
    if (this.auth) register(app, this);
  }

  private async onRequest(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (this.concurrency.enabled) {
      const release = this.concurrency.acquire(ipOf(req));
      if (!release) throw tooMany(1, 'too many requests in progress from this client');
      reply.raw.once('close', release);
    }
    const wait = this.ipRate.take(ipOf(req));
    if (wait) throw tooMany(wait, 'request rate limit for this client address reached');
    const v2 = req.url.startsWith('/v2/');
    if (!v2 && !(this.auth && isObservability(req.url))) return;
    const p = await this.authenticate(req);
    req.principal = p;
    if (p.user) {
      req.facts.user = p.user;
      const w = this.userRate.take(p.user);
      if (w) throw tooMany(w, 'request rate limit for this user reached');
    }
    if (v2) this.authorize(req, p, req.api);
    else this.authorizeObserver(p);
  }

  /**
   * Checks a user's password with the failed-login backoffs; throws 429 while backed off. The
   * client-wide budget (guessing across user names) does not lock out a user who signed in from
   * that address before: one guesser behind an office NAT must not lock out the office.
   */
  async checkPassword(ip: string, user: string, password: string): Promise<boolean> {
    const known = this.signedIn.has(`${ip}\u0000${user}`);
    const wait = Math.max(await this.backoff.wait(ip, user), known ? 0 : await this.clientBackoff.wait(ip, ANY_USER));
    if (wait) throw tooMany(wait, 'too many failed logins; wait before trying again');
    const ok = await this.auth!.htpasswd.verify(user, password);
    if (ok) {
      this.rememberSignIn(ip, user);
      await this.backoff.succeeded(ip, user);
    } else {
      await this.backoff.failed(ip, user);
      await this.clientBackoff.failed(ip, ANY_USER);
    }
    return ok;
  }

  private rememberSignIn(ip: string, user: string): void {
    const k = `${ip}\u0000${user}`;
    this.signedIn.delete(k);
    this.signedIn.add(k);
    if (this.signedIn.size > 100_000) this.signedIn.delete(this.signedIn.values().next().value!);
  }

  private async authenticate(req: FastifyRequest): Promise<Principal> {
    const a = this.auth;
    if (!a) return OPEN;
    const h = req.headers.authorization;
    if (!h) return this.byPolicy(a, undefined, 'none');
    const basic = parseBasic(h);
    if (basic) {
      if (!(await this.checkPassword(ipOf(req), basic.user, basic.password))) {
        throw this.unauthorized(req, undefined, 'invalid user name or password');
      }
      return this.byPolicy(a, basic.user, 'basic');
    }
    const bearer = /^bearer\s+(\S+)\s*$/i.exec(h);
    if (!bearer) throw this.unauthorized(req, undefined, 'unsupported Authorization scheme');
    const claims = await a.tokens.verify(bearer[1]!);
    if (!claims) throw this.unauthorized(req, undefined, 'invalid or expired token', 'invalid_token');
    const user = claims.sub || undefined;
    // A removed user's tokens stop working here at once, whatever their expiry.
    if (user !== undefined && !(await a.htpasswd.has(user))) throw this.unauthorized(req, undefined, 'the token\'s user no longer exists', 'invalid_token');
    return this.byToken(a, user, claims.access);
  }

  private byPolicy(a: AuthParts, user: string | undefined, via: Principal['via']): Principal {
    return {
      user, via,
      can: (key, action) => a.policy.can({ user }, key, action),
      canCatalog: () => a.policy.canCatalog({ user }),
      visible: (key) => a.policy.can({ user }, key, 'pull'),
    };
  }

  /**
   * A token grants what it names (routed like any repository name, so `library/x` and
   * `docker.io/library/x` are one), and only while the access rules still allow it: a reload
   * that revokes access applies to tokens already issued, not only to new ones.
   */
  private byToken(a: AuthParts, user: string | undefined, access: AccessEntry[]): Principal {
    const router = this.state().router;
    const repos = access.filter((e) => e.type === 'repository').map((e) => ({ key: router.scopeKey(e.name), actions: e.actions }));
    const catalog = access.some((e) => e.type === 'registry' && e.name === 'catalog' && e.actions.includes('*'));
    return {
      user, via: 'bearer',
      can: (key, action) => repos.some((e) => e.key !== undefined && sameRepo(e.key, key) && (e.actions.includes(action) || e.actions.includes('*')))
        && a.policy.can({ user }, key, action),
      canCatalog: () => catalog && a.policy.canCatalog({ user }),
      // The catalog lists what the token's user may pull now, not only what the token names.
      visible: (key) => a.policy.can({ user }, key, 'pull'),
    };
  }

  private authorize(req: FastifyRequest, p: Principal, api: ApiRequest | undefined): void {
    if (!api || p.via === 'open') return;
    if (api.kind === 'ping') {
      // /v2/ is how clients discover auth and how `docker login` checks a password: it must
      // challenge anyone who presented nothing, even when anonymous pulls are allowed.
      if (p.via === 'none') throw this.unauthorized(req, undefined, 'authentication required');
      return;
    }
    const policy = this.auth!.policy;
    if (api.kind === 'catalog') {
      if (p.canCatalog()) return;
      if (p.user && !policy.canCatalog({ user: p.user })) throw new RegistryError('DENIED', `user ${p.user} may not list the catalog`);
      throw this.unauthorized(req, 'registry:catalog:*', 'authentication required', p.via === 'bearer' ? 'insufficient_scope' : undefined);
    }
    const repo = api.repo!;
    const action = requiredAction(req.method, api.kind);
    if (p.can(repo, action)) return;
    const name = accessName(repo);
    if (p.user && !policy.can({ user: p.user }, repo, action)) throw new RegistryError('DENIED', `user ${p.user} may not ${action} ${name}`);
    // Docker clients ask pull+push for any push; asking for the same avoids a second round trip.
    const scope = `repository:${name}:${action === 'push' ? 'pull,push' : action}`;
    throw this.unauthorized(req, scope, 'authentication required', p.via === 'bearer' ? 'insufficient_scope' : undefined);
  }

  /** The status page and /metrics name images and clients: only for the `observe` action. */
  private authorizeObserver(p: Principal): void {
    const policy = this.auth!.policy;
    if (policy.canObserve({ user: p.user })) return;
    if (p.user) throw new RegistryError('DENIED', `user ${p.user} may not see the status page and metrics (the observe action)`);
    // Browsers and Prometheus understand Basic: let them ask for credentials.
    throw new RegistryError('UNAUTHORIZED', 'sign in to see the status page and metrics', {}, { headers: { 'www-authenticate': 'Basic realm="regway"' } });
  }

  /** 401 with the spec's Bearer challenge: realm, service and the scope the request needs. */
  unauthorized(req: FastifyRequest, scope: string | undefined, message: string, error?: string): RegistryError {
    const parts = [`realm="${this.realm(req)}"`, `service="${this.auth!.tokens.settings.service}"`];
    if (scope) parts.push(`scope="${scope}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError('UNAUTHORIZED', message, {}, { headers: { 'www-authenticate': `Bearer ${parts.join(',')}` } });
  }

  /**
   * The configured realm, else one built from the request's Host: only when that is a valid
   * host[:port] (it goes inside a quoted string of a header clients act on), else the address the
   * request reached.
   */
  private realm(req: FastifyRequest): string {
    const configured = this.auth!.realm;
    if (configured) return configured;
    const host = isValidHost(req.host) ? req.host : hostOfSocket(req);
    return `${req.protocol}://${host}/token`;
  }
}

function hostOfSocket(req: FastifyRequest): string {
  let a = req.socket?.localAddress ?? '127.0.0.1';
  if (a.startsWith('::ffff:')) a = a.slice(7);
  return `${a.includes(':') ? `[${a}]` : a}:${req.socket?.localPort ?? ''}`;
}

/** The client address the first hook recorded (every protocol, never undefined). */
export function ipOf(req: FastifyRequest): string {
  return req.facts?.clientIp ?? req.ip ?? 'unknown';
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
