// Stage 8: do the credentials (or anonymity) get us in? Bearer: the token request exactly as the docker client makes
// it (GET realm?service=&scope=repository:<name>:pull with Basic credentials). Basic: GET /v2/ with the credentials.
import { baseUrl, describeSource, type DoctorContext } from './context.js';
import { finding } from './findings.js';
import { basicAuth, rawRequest } from './http.js';
import { errorText } from '../common/http.js';
import type { Finding } from './types.js';

const STAGE = 'token';

export function pullScope(ctx: DoctorContext, actions = 'pull'): string | undefined {
  const name = ctx.target.image?.name;
  if (!name) return undefined;
  return `repository:${ctx.target.via ? `${ctx.target.registry}/${name}` : name}:${actions}`;
}

/** Token request; returns the token or a finding explaining why there is none. */
export async function requestToken(ctx: DoctorContext, scope: string | undefined): Promise<{ token?: string; expiresIn?: number; status?: number; error?: string; ms: number }> {
  const p = ctx.challenge?.params ?? {};
  const u = new URL(p.realm!);
  if (p.service) u.searchParams.set('service', p.service);
  if (scope) u.searchParams.set('scope', scope);
  const headers: Record<string, string> = {};
  if (ctx.creds) headers.authorization = basicAuth(ctx.creds.username, ctx.creds.password);
  const t0 = performance.now();
  try {
    const r = await rawRequest(ctx, u, { headers });
    if (r.status !== 200) return { status: r.status, error: r.body.toString('utf8').slice(0, 200), ms: r.ms };
    const doc = JSON.parse(r.body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = doc.token ?? doc.access_token;
    return token ? { token, expiresIn: doc.expires_in ?? 60, status: 200, ms: r.ms } : { status: 200, error: 'the answer holds no token', ms: r.ms };
  } catch (e) {
    return { error: errorText(e), ms: performance.now() - t0 };
  }
}

async function checkBearer(ctx: DoctorContext): Promise<Finding[]> {
  const scope = pullScope(ctx);
  const realm = ctx.challenge!.params.realm!;
  const r = await requestToken(ctx, scope);
  const who = ctx.creds ? describeSource(ctx.creds) : 'anonymous';
  const data = { realm, service: ctx.challenge!.params.service, scope, status: r.status, ...(ctx.creds ? { user: ctx.creds.username, file: ctx.creds.source.file, key: ctx.creds.source.key } : {}) };
  if (r.token) return [finding('TOKEN_OK', STAGE, `${realm} issued a token for ${scope ?? 'the registry'} to ${who}, valid ${r.expiresIn} s`, { durationMs: r.ms, data })];
  ctx.authFailed = true;
  if (r.status === 401 || r.status === 403) {
    if (!ctx.creds) return [finding('LOGIN_REQUIRED', STAGE, `${realm} answered ${r.status} to an anonymous token request`, { durationMs: r.ms, data })];
    return [finding('TOKEN_REJECTED', STAGE, `${realm} answered ${r.status} to ${who}`, { durationMs: r.ms, data })];
  }
  return [finding('TOKEN_FAILED', STAGE, `${realm}: ${r.status ? `answered ${r.status}: ` : ''}${r.error}`, { durationMs: r.ms, data })];
}

async function checkBasic(ctx: DoctorContext): Promise<Finding[]> {
  if (!ctx.creds) {
    ctx.authFailed = true;
    return [finding('LOGIN_REQUIRED', STAGE, `${ctx.target.endpoint.host} asks for Basic credentials and none were found`)];
  }
  const who = describeSource(ctx.creds);
  const url = new URL('v2/', baseUrl(ctx));
  const data = { user: ctx.creds.username, file: ctx.creds.source.file, key: ctx.creds.source.key, helper: ctx.creds.source.helper };
  try {
    const r = await rawRequest(ctx, url, { headers: { authorization: basicAuth(ctx.creds.username, ctx.creds.password) } });
    if (r.status === 200) return [finding('LOGIN_OK', STAGE, `GET /v2/ accepted ${who}`, { durationMs: r.ms, data })];
    ctx.authFailed = true;
    return [finding('LOGIN_REJECTED', STAGE, `GET /v2/ answered ${r.status} to ${who}`, { durationMs: r.ms, data: { ...data, status: r.status } })];
  } catch (e) {
    ctx.authFailed = true;
    return [finding('TCP_FAILED', STAGE, `GET ${url.href} with credentials: ${errorText(e)}`)];
  }
}

export async function checkToken(ctx: DoctorContext): Promise<Finding[]> {
  if (ctx.authScheme === 'bearer') return checkBearer(ctx);
  if (ctx.authScheme === 'basic') return checkBasic(ctx);
  if (ctx.authScheme === 'unknown') ctx.authFailed = true;
  return [];
}
