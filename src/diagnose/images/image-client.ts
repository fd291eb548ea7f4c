// Reading images for inspect, warm, bench and the doctor's manifest and blob checks, on top of the project's
// UpstreamClient (token and Basic auth, TLS options, redirects without credentials). Through a gateway the
// requests carry `?ns=<registry>`, which regway and the OCI "registry proxying" convention understand.
import { UpstreamClient, readCappedBytes, drain, type UpstreamResponse } from '../../client/upstream-client.js';
import { upstreamSchema } from '../../config/schema.js';
import { digestOf, parseDigest } from '../../oci/digest.js';
import { blobRequest, manifestRequest } from '../../upstream/requests.js';
import { readManifestBody } from '../../upstream/manifest-reader.js';
import { MANIFEST_TYPES, MT, bareType } from '../../oci/mediatypes.js';
import { MAX_MANIFEST_BYTES, isIndex, parseManifest, type Descriptor, type ManifestInfo } from '../../oci/manifest.js';
import type { ImageRef } from '../../oci/reference.js';
import { toolUserAgent, type ToolName } from '../../obs/tools.js';
import { explainErrors, parseErrorBody, type RegistryErrorBody } from '../common/registry-error.js';
import { apiHost } from '../common/target.js';

interface ImageClientOptions {
  /** Base URL of the endpoint: the registry (http(s)://host[:port]) or a gateway. */
  endpoint: string;
  /** The registry the image belongs to; when the endpoint is another host, requests carry ?ns=. */
  registry: string;
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  /** Which regway tool is asking: sent as the User-Agent so a gateway keeps tool traffic out of its pull statistics. */
  tool: ToolName;
}

export interface FetchedManifest {
  status: number;
  digest: string;
  mediaType: string;
  bytes: Buffer;
  info?: ManifestInfo;
  headers: UpstreamResponse['headers'];
  /** The OCI error body of a refusal (a gateway's UPSTREAM_UNAVAILABLE names the upstreams it tried). */
  errors?: RegistryErrorBody[];
}

interface PlatformImage {
  platform: string;
  digest: string;
  info: ManifestInfo;
  bytes: number;
  /** Its response headers (a gateway's x-regway-policy verdict on this platform image). */
  headers?: UpstreamResponse['headers'];
}

interface ResolvedImage {
  top: FetchedManifest;
  /** os/arch[/variant] of every child of an index; for a single manifest, the platform read from its config when asked. */
  platforms: string[];
  children: Descriptor[];
}

const ACCEPT = [...MANIFEST_TYPES, MT.dockerSchema1Signed, MT.dockerSchema1].join(', ');
const MAX_ERROR_BODY = 64 * 1024;

export function platformString(p: Descriptor['platform']): string {
  if (!p) return 'unknown';
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
}

/** linux/arm64 matches linux/arm64/v8; an exact variant must match when one is asked for. */
export function platformMatches(want: string, d: Descriptor): boolean {
  const [os, arch, variant] = want.split('/');
  const p = d.platform;
  if (!p || p.os !== os || p.architecture !== arch) return false;
  return !variant || p.variant === variant;
}

export class ImageClient {
  readonly client: UpstreamClient;
  private readonly query: string | undefined;

  constructor(readonly opts: ImageClientOptions) {
    const url = new URL(opts.endpoint);
    const direct = url.host === apiHost(opts.registry) || url.host === opts.registry;
    this.query = direct ? undefined : `ns=${encodeURIComponent(opts.registry)}`;
    const t = opts.timeoutMs ?? 30_000;
    const config = upstreamSchema.parse({
      url: url.origin + url.pathname.replace(/\/+$/, ''),
      tls: { insecure: !!opts.insecure, ...(opts.caFile ? { ca: opts.caFile } : {}) },
      timeouts: { connect: t, headers: t, idle: t },
    });
    const creds = opts.username !== undefined && opts.password !== undefined ? { username: opts.username, password: opts.password } : undefined;
    // The person running the tool hands over credentials for this registry: like `docker login`, they
    // go to the realm the registry names (never from https to http).
    this.client = new UpstreamClient(config, { credentials: async () => creds, userAgent: toolUserAgent(opts.tool), anyRealmHost: true });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async manifest(name: string, reference: string, method: 'GET' | 'HEAD' = 'GET'): Promise<FetchedManifest> {
    const res = await this.client.send(manifestRequest(method, name, reference, ACCEPT, this.query));
    const headers = res.headers;
    const ct = bareType(firstHeader(headers, 'content-type'));
    if (res.status !== 200 || method === 'HEAD') {
      // A refusal's body says why (clients only print the status line): keep it for the report.
      let errors: RegistryErrorBody[] = [];
      if (method === 'GET' && res.status >= 400) errors = parseErrorBody(await readCappedBytes(res.body, MAX_ERROR_BODY).catch(() => undefined));
      else await drain(res);
      return { status: res.status, digest: firstHeader(headers, 'docker-content-digest') ?? '', mediaType: ct, bytes: Buffer.alloc(0), headers, ...(errors.length ? { errors } : {}) };
    }
    if (ct === MT.dockerSchema1 || ct === MT.dockerSchema1Signed) {
      // Reported (the doctor says clients refuse it), not served by the gateway: read without the v2 checks.
      const bytes = await readCappedBytes(res.body, MAX_MANIFEST_BYTES);
      const info = parseManifest(bytes, ct);
      return { status: 200, digest: digestOf(bytes), mediaType: info.mediaType || ct, bytes, info, headers };
    }
    // The gateway's own checks (cap, digest against the one asked or announced, media type): a
    // manifest the gateway would refuse is reported as such, not inspected as if it were fine.
    const want = reference.includes(':') ? parseDigest(reference) : undefined;
    const m = await readManifestBody(res, this.client.id, want);
    return { status: 200, digest: m.digest.value, mediaType: m.mediaType, bytes: m.bytes, info: m.info, headers };
  }

  /** GET of a blob; the caller reads (or abandons) the body. `follow: false` returns a redirect as is. */
  blob(name: string, digest: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET', follow = true): Promise<UpstreamResponse> {
    return this.client.send({ ...blobRequest(method, name, digest, headers, this.query), ...(follow ? {} : { followRedirects: false }) });
  }

  /** The top manifest and, for an index, its children's platforms. Throws ManifestError on a non-200. */
  async resolve(ref: ImageRef): Promise<ResolvedImage> {
    const top = await this.manifest(ref.name, ref.digest ?? ref.tag ?? 'latest');
    if (top.status !== 200 || !top.info) throw new ManifestError(top.status, top, ref.registry);
    const children = isIndex(top.info.mediaType) ? top.info.manifests.filter((d) => d.platform && d.platform.os !== 'unknown') : [];
    return { top, platforms: children.map((d) => platformString(d.platform)), children };
  }

  /** The image manifest for a platform: the index child, or the manifest itself for a single-platform image. */
  async forPlatform(ref: ImageRef, r: ResolvedImage, platform: string | undefined): Promise<PlatformImage | undefined> {
    if (!isIndex(r.top.info!.mediaType)) return { platform: platform ?? 'single', digest: r.top.digest, info: r.top.info!, bytes: r.top.bytes.length, headers: r.top.headers };
    const d = platform ? r.children.find((c) => platformMatches(platform, c)) : r.children[0];
    if (!d) return undefined;
    const m = await this.manifest(ref.name, d.digest);
    if (m.status !== 200 || !m.info) throw new ManifestError(m.status, m, ref.registry);
    return { platform: platformString(d.platform), digest: d.digest, info: m.info, bytes: m.bytes.length, headers: m.headers };
  }

  /** Reads a small JSON blob (an image config). */
  async json(name: string, digest: string): Promise<unknown> {
    const res = await this.blob(name, digest);
    if (res.status !== 200) {
      await drain(res);
      throw new Error(`blob ${digest} answered ${res.status}`);
    }
    return JSON.parse((await readCappedBytes(res.body, MAX_MANIFEST_BYTES)).toString('utf8')) as unknown;
  }
}

export class ManifestError extends Error {
  constructor(
    readonly status: number,
    readonly response: FetchedManifest,
    registry = '',
  ) {
    const why = explainErrors(response.errors ?? [], registry);
    super(`manifest request answered ${status}${why ? `: ${why}` : ''}`);
    this.name = 'ManifestError';
  }
}

/** Reads (capped) and explains the OCI error body of a refused blob request; undefined when it has none. */
export async function blobRefusal(res: UpstreamResponse, registry: string): Promise<string | undefined> {
  const errors = parseErrorBody(await readCappedBytes(res.body, MAX_ERROR_BODY).catch(() => undefined));
  return explainErrors(errors, registry);
}

export function firstHeader(h: UpstreamResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Every blob an image manifest names: config first, then layers. */
export function blobsOf(info: ManifestInfo): Descriptor[] {
  return [...(info.config ? [info.config] : []), ...info.layers];
}
