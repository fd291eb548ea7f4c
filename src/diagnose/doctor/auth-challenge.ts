// Stage 6: how the registry wants clients to authenticate, read from the ping's WWW-Authenticate.
import { bearerChallenge, parseChallenges } from '../../auth/challenge.js';
import type { DoctorContext } from './context.js';
import { finding } from './findings.js';
import { header } from './http.js';
import { pingResponses } from './ping.js';
import type { Finding } from './types.js';

export async function checkChallenge(ctx: DoctorContext): Promise<Finding[]> {
  const r = pingResponses.get(ctx);
  if (!r) return [];
  if (r.status !== 401) {
    ctx.authScheme = 'none';
    return [finding('AUTH_NONE', 'auth-challenge', `GET /v2/ answered ${r.status} without credentials`)];
  }
  const raw = header(r.headers, 'www-authenticate');
  const bearer = bearerChallenge(raw);
  if (bearer?.params.realm) {
    ctx.authScheme = 'bearer';
    ctx.challenge = bearer;
    const { realm, service } = bearer.params;
    return [finding('AUTH_BEARER', 'auth-challenge', `token service ${realm}${service ? `, service "${service}"` : ''}`, { data: { scheme: 'bearer', realm, service } })];
  }
  const basic = parseChallenges(raw).find((c) => c.scheme === 'basic');
  if (basic) {
    ctx.authScheme = 'basic';
    ctx.challenge = basic;
    return [finding('AUTH_BASIC', 'auth-challenge', `Basic realm "${basic.params.realm ?? ''}"`, { data: { scheme: 'basic', realm: basic.params.realm } })];
  }
  ctx.authScheme = 'unknown';
  return [
    finding(
      'AUTH_CHALLENGE_MISSING',
      'auth-challenge',
      raw ? `WWW-Authenticate "${raw}" names no usable scheme (Bearer with realm, or Basic)` : 'GET /v2/ answered 401 with no WWW-Authenticate header',
      { data: { header: raw } },
    ),
  ];
}
