// Stage 11: would a push of a large layer get through, or does a proxy in front answer 413? We announce a large body
// (Content-Length with Expect: 100-continue) and never send it: a proxy with a body limit refuses from the header
// alone; anything else says "continue" (we hang up) or, for a registry that does not wait, opens an upload session
// that we cancel at once with DELETE. No byte of content is ever written to the registry.
// "100 Continue" is not permission: Node's HTTP server (and so a regway gateway) sends it before any handler has
// looked at the credentials. Permission is asked the way a real push starts, with an empty POST.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { baseUrl, trustedCas, type DoctorContext } from './context.js';
import { hostOf } from './dns.js';
import { finding } from './findings.js';
import { basicAuth, DOCTOR_AGENT } from './http.js';
import { errorText, fmtBytes } from '../common/http.js';
import { pullScope, requestToken } from './token.js';
import type { Finding } from './types.js';

const STAGE = 'upload';
const ANNOUNCE = 1024 * 1024 * 1024;

type Answer = { kind: 'continue' } | { kind: 'response'; status: number; server?: string; location?: string };

function send(ctx: DoctorContext, url: URL, method: string, headers: Record<string, string>, onReq: (r: ClientRequest) => void): Promise<IncomingMessage | 'continue'> {
  const https = url.protocol === 'https:';
  const ca = trustedCas(ctx);
  const host = hostOf(url);
  const opts = {
    method,
    headers: { 'user-agent': DOCTOR_AGENT, ...headers },
    agent: false as const,
    timeout: ctx.opts.timeoutMs,
    ...(https ? { rejectUnauthorized: ctx.tlsVerified && !ctx.opts.insecure, ...(ca ? { ca } : {}), ...(isIP(host) ? {} : { servername: host }) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, opts);
    req.on('continue', () => {
      resolve('continue');
      req.destroy();
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(e));
    onReq(req);
  });
}

/** POST of an upload announcing `size` bytes; the body is never sent. A session the registry opens is cancelled. */
async function announce(ctx: DoctorContext, url: URL, size: number, auth: string | undefined): Promise<Answer> {
  const headers: Record<string, string> = { 'content-length': String(size), 'content-type': 'application/octet-stream', expect: '100-continue' };
  if (auth) headers.authorization = auth;
  const r = await send(ctx, url, 'POST', headers, (req) => req.flushHeaders());
  if (r === 'continue') return { kind: 'continue' };
  const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
  if (r.statusCode === 202 && location) await cancel(ctx, new URL(location, url), auth);
  return { kind: 'response', status: r.statusCode ?? 0, ...(r.headers.server ? { server: String(r.headers.server) } : {}), ...(location ? { location } : {}) };
}

/** The first request of every real push: an empty POST. 202 = pushes are allowed (the session is cancelled). */
async function startEmpty(ctx: DoctorContext, url: URL, auth: string | undefined): Promise<number> {
  const headers: Record<string, string> = { 'content-length': '0' };
  if (auth) headers.authorization = auth;
  const r = await send(ctx, url, 'POST', headers, (req) => req.end());
  if (r === 'continue') return 100;
  const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
  if (r.statusCode === 202 && location) await cancel(ctx, new URL(location, url), auth);
  return r.statusCode ?? 0;
}

async function cancel(ctx: DoctorContext, url: URL, auth: string | undefined): Promise<void> {
  try {
    await send(ctx, url, 'DELETE', auth ? { authorization: auth } : {}, (req) => req.end());
  } catch {
    /* the session expires on its own */
  }
}

async function pushAuth(ctx: DoctorContext): Promise<string | undefined> {
  if (ctx.authScheme === 'basic' && ctx.creds) return basicAuth(ctx.creds.username, ctx.creds.password);
  if (ctx.authScheme === 'bearer') {
    const t = await requestToken(ctx, pullScope(ctx, 'pull,push') ?? 'repository:regway-doctor/probe:pull,push');
    return t.token ? `Bearer ${t.token}` : undefined;
  }
  return undefined;
}

/** Largest size the limit lets through, by bisection on announcements (each costs one header exchange). */
async function findLimit(ctx: DoctorContext, url: URL, auth: string | undefined): Promise<number> {
  let lo = 0;
  let hi = ANNOUNCE;
  for (let i = 0; i < 24 && hi - lo > Math.max(1024, lo / 64); i++) {
    const mid = Math.floor((lo + hi) / 2);
    const a = await announce(ctx, url, mid, auth);
    if (a.kind === 'response' && a.status === 413) hi = mid;
    else lo = mid;
  }
  return lo;
}

/** The size got past whatever said "continue"; whether this account may push is a separate question. */
async function afterContinue(ctx: DoctorContext, url: URL, auth: string | undefined, t0: number): Promise<Finding> {
  const status = await startEmpty(ctx, url, auth);
  const ms = performance.now() - t0;
  const told = `POST ${url.pathname} announcing ${fmtBytes(ANNOUNCE)} was told to continue (we hung up before sending)`;
  if (status === 202) return finding('UPLOAD_OK', STAGE, `${told}, and an empty POST opened an upload session (cancelled)`, { durationMs: ms });
  const why =
    status === 401 || status === 403
      ? `no push permission with these credentials (an empty POST answered ${status}; the "100 Continue" came before any permission check)`
      : `an empty POST answered ${status}`;
  return finding('UPLOAD_SKIPPED', STAGE, `${told}, but ${why}; no proxy body limit was seen in front of it`, { durationMs: ms, data: { status, continued: true } });
}

export async function checkUpload(ctx: DoctorContext): Promise<Finding[]> {
  if (ctx.target.via) return [finding('UPLOAD_SKIPPED', STAGE, 'checked through a gateway, which is a pull-through cache and takes no pushes')];
  const name = ctx.target.image?.name ?? 'regway-doctor/probe';
  const url = new URL(`v2/${name}/blobs/uploads/`, baseUrl(ctx));
  const t0 = performance.now();
  try {
    const auth = await pushAuth(ctx);
    const a = await announce(ctx, url, ANNOUNCE, auth);
    if (a.kind === 'response' && a.status === 202)
      return [finding('UPLOAD_OK', STAGE, `POST ${url.pathname} announcing ${fmtBytes(ANNOUNCE)} was opened and cancelled`, { durationMs: performance.now() - t0 })];
    if (a.kind === 'continue') return [await afterContinue(ctx, url, auth, t0)];
    const ms = performance.now() - t0;
    if (a.status === 413) {
      const limit = await findLimit(ctx, url, auth);
      const nginx = /nginx/i.test(a.server ?? '');
      const fix = nginx
        ? `nginx (Server: ${a.server}) limits bodies with client_max_body_size: set \`client_max_body_size 0;\` in the server or location /v2/ block (ingress-nginx: annotation nginx.ingress.kubernetes.io/proxy-body-size: "0") and reload.`
        : undefined;
      return [
        finding(
          'UPLOAD_BODY_LIMIT',
          STAGE,
          `POST ${url.pathname} announcing ${fmtBytes(ANNOUNCE)} got 413${a.server ? ` from ${a.server}` : ''}; bodies up to about ${fmtBytes(limit)} pass, so pushing any larger layer fails`,
          { durationMs: performance.now() - t0, data: { server: a.server, limitBytes: limit }, ...(fix ? { fix } : {}) },
        ),
      ];
    }
    const why = a.status === 401 || a.status === 403 ? 'no push permission with these credentials' : `the registry answered ${a.status}`;
    return [finding('UPLOAD_SKIPPED', STAGE, `POST ${url.pathname}: ${why}; no proxy body limit was seen in front of it`, { durationMs: ms, data: { status: a.status } })];
  } catch (e) {
    return [finding('UPLOAD_SKIPPED', STAGE, `POST ${url.pathname}: ${errorText(e)}`, { durationMs: performance.now() - t0 })];
  }
}
