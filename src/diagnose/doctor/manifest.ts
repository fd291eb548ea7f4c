// Stage 9: the image's manifest, the way a pull starts: which platforms exist, and the one this node needs.
import { UpstreamAuthError, UpstreamConnectionError } from '../../client/upstream-client.js';
import { MT } from '../../oci/mediatypes.js';
import { baseUrl, describeSource, type DoctorContext } from './context.js';
import { finding } from './findings.js';
import { describeUpstreams, failingUpstreams } from './gateway-status.js';
import { errorText, fmtBytes } from '../common/http.js';
import { firstHeader, ImageClient, ManifestError, type FetchedManifest } from '../images/image-client.js';
import { explainErrors, failedUpstreams } from '../common/registry-error.js';
import { imageReference } from '../common/target.js';
import { describePolicy, policyHeader, policyRefusal, toPass } from '../common/policy.js';
import type { Finding } from './types.js';

const STAGE = 'manifest';
const clients = new WeakMap<DoctorContext, ImageClient>();

/** The doctor's image client, sharing what earlier checks found: scheme, TLS trust, credentials. */
export function imageClient(ctx: DoctorContext): ImageClient {
  let c = clients.get(ctx);
  if (!c) {
    c = new ImageClient({
      endpoint: baseUrl(ctx).href,
      registry: ctx.target.registry,
      insecure: !!ctx.opts.insecure || !ctx.tlsVerified,
      ...(ctx.opts.caFile ? { caFile: ctx.opts.caFile } : {}),
      ...(ctx.creds ? { username: ctx.creds.username, password: ctx.creds.password } : {}),
      timeoutMs: ctx.opts.timeoutMs,
      tool: 'doctor',
    });
    clients.set(ctx, c);
  }
  return c;
}

export async function closeImageClient(ctx: DoctorContext): Promise<void> {
  await clients
    .get(ctx)
    ?.close()
    .catch(() => undefined);
  clients.delete(ctx);
}

function describeType(mt: string): string {
  switch (mt) {
    case MT.ociIndex:
      return 'OCI index';
    case MT.dockerList:
      return 'Docker manifest list';
    case MT.ociManifest:
      return 'OCI manifest';
    case MT.dockerManifest:
      return 'Docker v2 manifest';
    default:
      return mt;
  }
}

/** A gateway served the manifest from its cache because no upstream answered (RFC 7234 Warning 299, regway's x-regway-cache). */
function servedStale(m: FetchedManifest): string | undefined {
  const warning = firstHeader(m.headers, 'warning');
  if (warning && /^\s*299\b/.test(warning)) return `Warning: ${warning}`;
  return firstHeader(m.headers, 'x-regway-cache') === 'stale' ? 'x-regway-cache: stale' : undefined;
}

async function staleFinding(ctx: DoctorContext, what: string, why: string, ms: number, data: Record<string, unknown>): Promise<Finding> {
  const down = ctx.target.via ? await failingUpstreams(ctx) : [];
  const upstreams = down.length ? `; the gateway's upstreams for ${ctx.target.registry}: ${describeUpstreams(down)}` : `; the gateway's upstreams for ${ctx.target.registry} are not answering`;
  return finding('MANIFEST_STALE', STAGE, `${what}, served stale from the gateway's cache (${why})${upstreams}`, { durationMs: ms, data: { ...data, stale: why, upstreams: down } });
}

/** MANIFEST_FAILED with what the registry (or the gateway) said, and a fix that fits it. */
function failedFinding(where: string, e: ManifestError, registry: string, ms: number, data: Record<string, unknown>): Finding {
  const errors = e.response.errors ?? [];
  const why = explainErrors(errors, registry);
  const upstreams = failedUpstreams(errors);
  const fix = upstreams.length
    ? `The gateway answers but cannot reach its upstream(s) for ${registry} (${upstreams.join(', ')}): bring them back or fix the address, or point \`registries.${registry}.upstreams\` in the gateway's config at one that works and run \`regway reload\`. Images the gateway already cached keep being served.`
    : undefined;
  return finding('MANIFEST_FAILED', STAGE, `${where}: answered ${e.status}${why ? `: ${why}` : ''}`, {
    durationMs: ms,
    data: { ...data, ...(errors.length ? { errors } : {}) },
    ...(fix ? { fix } : {}),
  });
}

/** The gateway's pull-policy verdict on the image, with what would make it pass. */
function policyFinding(v: ReturnType<typeof policyHeader>, where: string, ms?: number): Finding | undefined {
  if (!v) return undefined;
  const code = v.decision === 'allow' ? 'POLICY_ALLOWED' : v.decision === 'deny' ? 'POLICY_DENIED' : 'POLICY_WOULD_DENY';
  const fix = v.decision === 'allow' ? undefined : toPass(v.reason);
  return finding(code, STAGE, `${where}: ${describePolicy(v, false)}`, { data: { ...v }, ...(fix ? { fix } : {}), ...(ms !== undefined ? { durationMs: ms } : {}) });
}

export async function checkManifest(ctx: DoctorContext): Promise<Finding[]> {
  const ref = ctx.target.image;
  if (!ref) return [finding('MANIFEST_SKIPPED', STAGE, `${ctx.target.input} names a registry, not an image`)];
  if (ctx.authFailed) return [];
  const c = imageClient(ctx);
  const t0 = performance.now();
  const who = ctx.creds ? describeSource(ctx.creds) : 'anonymous';
  const where = `${ctx.target.registry}/${ref.name}:${imageReference(ref)}`;
  try {
    const r = await c.resolve(ref);
    const want = ctx.opts.platform;
    const p = await c.forPlatform(ref, r, r.platforms.length ? want : undefined);
    const ms = performance.now() - t0;
    const data = { digest: r.top.digest, mediaType: r.top.mediaType, platforms: r.platforms };
    if (!p) {
      return [finding('MANIFEST_PLATFORM_MISSING', STAGE, `${where} (${describeType(r.top.mediaType)}) lists ${r.platforms.join(', ') || 'no platform'}; no ${want}`, { durationMs: ms, data })];
    }
    const total = p.info.layers.reduce((n, l) => n + l.size, 0) + (p.info.config?.size ?? 0);
    ctx.image = { digest: r.top.digest, mediaType: r.top.mediaType, platforms: r.platforms, manifest: p.info, totalBytes: total };
    const plats = r.platforms.length ? `${r.platforms.length} platform(s): ${r.platforms.join(', ')}; ${p.platform}: ` : '';
    const what = `${where} is ${r.top.digest} (${describeType(r.top.mediaType)}); ${plats}${p.info.layers.length} layers, ${fmtBytes(total)}`;
    const okData = { ...data, platform: p.platform, layers: p.info.layers.length, totalBytes: total };
    const stale = servedStale(r.top);
    const verdict = policyFinding(policyHeader(p.headers?.['x-regway-policy']) ?? policyHeader(r.top.headers['x-regway-policy']), where);
    const found = stale ? await staleFinding(ctx, what, stale, ms, okData) : finding('MANIFEST_OK', STAGE, what, { durationMs: ms, data: okData });
    return verdict ? [found, verdict] : [found];
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof ManifestError) {
      const data = {
        status: e.status,
        url: new URL(`v2/${ref.name}/manifests/${imageReference(ref)}`, baseUrl(ctx)).href,
        ...(ctx.creds ? { user: ctx.creds.username, file: ctx.creds.source.file, key: ctx.creds.source.key } : {}),
      };
      const said = explainErrors(e.response.errors ?? [], ctx.target.registry);
      const quote = said ? `; the registry says ${said}` : '';
      if (e.status === 404) return [finding('MANIFEST_UNKNOWN', STAGE, `${where}: 404 (no such repository or tag)${quote}`, { durationMs: ms, data })];
      const refused = e.status === 403 ? policyRefusal(e.response.errors ?? []) : undefined;
      if (refused) return [policyFinding(refused, where, ms)!];
      if (e.status === 401 || e.status === 403) return [finding('MANIFEST_DENIED', STAGE, `${where}: ${e.status} for ${who}${quote}`, { durationMs: ms, data })];
      return [failedFinding(where, e, ctx.target.registry, ms, data)];
    }
    if (e instanceof UpstreamAuthError) return [finding('TOKEN_FAILED', STAGE, `${where}: ${e.message}`, { durationMs: ms })];
    const cause = e instanceof UpstreamConnectionError ? e.reason : e;
    return [finding('MANIFEST_FAILED', STAGE, `${where}: ${errorText(cause)}`, { durationMs: ms })];
  }
}
