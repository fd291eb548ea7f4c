import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';
import { grant, parseScope, type AccessEntry } from '../auth/access.js';
import { readSmallBody } from '../hosted/body.js';
import { ipOf, parseBasic, type Guard } from './guard.js';

type Query = Record<string, string | string[] | undefined>;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Docker's token service ("Token Authentication Specification" and the OAuth2 variant):
 *   GET  /token?service=&scope=…  with Basic credentials, or none for an anonymous token;
 *        `offline_token=true` also returns a refresh token (what `docker login` stores);
 *   POST /token  form: grant_type=password (username, password) or refresh_token, scope, service.
 * The token grants the intersection of the scopes asked for and what the access rules allow;
 * asking for more is not an error, the token just carries less (the registry then says 401/403).
 */
export function tokenRoutes(guard: Guard) {
  return async (app: FastifyInstance): Promise<void> => registerTokenRoute(app, guard);
}

function registerTokenRoute(app: FastifyInstance, guard: Guard): void {
  app.get('/token', async (req, reply) => {
    req.facts.operation = 'token';
    const q = req.query as Query;
    checkService(guard, q.service);
    let user: string | undefined;
    const h = req.headers.authorization;
    if (h) {
      const basic = parseBasic(h);
      if (!basic || !(await guard.checkPassword(ipOf(req), basic.user, basic.password))) throw badLogin();
      user = basic.user;
    }
    const wantRefresh = String(q.offline_token) === 'true' && user !== undefined;
    return issue(guard, req, reply, user, scopes(list(q.scope)), wantRefresh);
  });

  app.post('/token', async (req, reply) => {
    req.facts.operation = 'token';
    const raw = await readSmallBody(req.raw, 64 * 1024, () => new RegistryError('SIZE_INVALID', 'token request too large', {}, { status: 413 }));
    const form = new URLSearchParams(raw.toString('utf8'));
    checkService(guard, form.get('service') ?? undefined);
    let user: string;
    const type = form.get('grant_type');
    if (type === 'password') {
      const u = form.get('username') ?? '';
      if (!u || !(await guard.checkPassword(ipOf(req), u, form.get('password') ?? ''))) throw badLogin();
      user = u;
    } else if (type === 'refresh_token') {
      const sub = await guard.auth!.tokens.verifyRefresh(form.get('refresh_token') ?? '');
      // A deleted user's refresh tokens stop working at once, whatever their expiry.
      if (!sub || !(await guard.auth!.htpasswd.has(sub))) throw badLogin('invalid or expired refresh token');
      user = sub;
    } else {
      throw new RegistryError('UNSUPPORTED', 'grant_type must be password or refresh_token', {}, { status: 400 });
    }
    const requested = scopes((form.get('scope') ?? '').split(' ').filter(Boolean));
    return issue(guard, req, reply, user, requested, type === 'password' && form.get('access_type') === 'offline', true);
  });
}

function scopes(raw: string[]): AccessEntry[] {
  // Several scopes may come in one parameter, space-separated (the OAuth2 form).
  return raw.flatMap((s) => s.split(' ')).map(parseScope).filter((s): s is AccessEntry => s !== undefined).slice(0, 50);
}

function checkService(guard: Guard, service: string | string[] | undefined): void {
  const s = Array.isArray(service) ? service[0] : service;
  const mine = guard.auth!.tokens.settings.service;
  if (s !== undefined && s !== mine) throw new RegistryError('DENIED', `this token service issues tokens for service "${mine}", not "${s.slice(0, 100)}"`);
}

function badLogin(message = 'invalid user name or password'): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, {}, { headers: { 'www-authenticate': 'Basic realm="regway"' } });
}

async function issue(guard: Guard, req: FastifyRequest, reply: FastifyReply, user: string | undefined, requested: AccessEntry[], refresh: boolean, oauth = false): Promise<unknown> {
  const a = guard.auth!;
  if (user) req.facts.user = user;
  const access = grant(a.policy, { user }, requested, (name) => guard.router.scopeKey(name));
  const t = await a.tokens.issue(user ?? '', access);
  const body: Record<string, unknown> = { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt };
  if (oauth) body.scope = access.filter((e) => e.actions.length).map((e) => `${e.type}:${e.name}:${e.actions.join(',')}`).join(' ');
  if (refresh && user) body.refresh_token = await a.tokens.issueRefresh(user);
  return reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(JSON.stringify(body));
}
