// `regway inspect`: what an image is made of (platforms, layers, config) and what is worth fixing about it; for
// several images, the layers they share and the bytes that sharing saves on every node that pulls them all.
import { MT } from '../../oci/mediatypes.js';
import { isIndex } from '../../oci/manifest.js';
import { parseImageRef } from '../../oci/reference.js';
import { ImageClient, ManifestError } from './image-client.js';
import { errorText } from '../common/http.js';
import type { Severity } from '../common/severity.js';
import { apiHost } from '../common/target.js';

interface InspectOptions {
  via?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  platform?: string;
}
interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
}
interface ConfigSummary {
  created?: string;
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  os?: string;
  architecture?: string;
}
export interface PlatformReport {
  platform: string;
  digest: string;
  layers: LayerInfo[];
  totalBytes: number;
  config: ConfigSummary;
}
interface ImageFinding {
  code: string;
  severity: Severity;
  detail: string;
}
export interface ImageReport {
  ref: string;
  registry: string;
  name: string;
  reference: string;
  digest?: string;
  mediaType?: string;
  platforms: PlatformReport[];
  findings: ImageFinding[];
  error?: string;
}
interface SharedLayer {
  digest: string;
  size: number;
  images: string[];
}
export interface SharingReport {
  platform: string;
  images: number;
  totalBytes: number;
  uniqueBytes: number;
  savedBytes: number;
  shared: SharedLayer[];
}

const MANY_LAYERS = 40;
const HUGE_LAYER_BYTES = 1024 ** 3;
const VERSIONED = /^(v?\d+(\.\d+)*([-+._][0-9A-Za-z.+-]+)?|\d{8}([-.T][0-9A-Za-z.-]+)?|[0-9a-f]{7,40})$/;

/** Findings about one image. Pure. */
export function imageFindings(r: Pick<ImageReport, 'reference' | 'mediaType' | 'platforms'>, platformsListed: string[]): ImageFinding[] {
  const out: ImageFinding[] = [];
  const ref = r.reference;
  if (!ref.startsWith('sha256:')) {
    if (ref === 'latest') out.push({ code: 'TAG_LATEST', severity: 'warn', detail: '"latest" moves: nodes that pulled at different times run different images; pin a version or a digest' });
    else if (!VERSIONED.test(ref)) out.push({ code: 'TAG_UNVERSIONED', severity: 'info', detail: `tag "${ref}" is not a version (1.2.3, 20240501, a git sha): it may move like latest` });
  }
  if (r.mediaType === MT.dockerSchema1 || r.mediaType === MT.dockerSchema1Signed) {
    out.push({ code: 'SCHEMA1', severity: 'error', detail: 'Docker image manifest schema 1 is deprecated: Docker 28 and containerd 2 refuse to pull it; rebuild and push with a current builder' });
    return out;
  }
  if (platformsListed.length) {
    for (const p of ['linux/amd64', 'linux/arm64']) {
      if (!platformsListed.some((x) => x === p || x.startsWith(`${p}/`)))
        out.push({ code: p === 'linux/amd64' ? 'NO_AMD64' : 'NO_ARM64', severity: 'warn', detail: `no ${p} image (has ${platformsListed.join(', ')}); nodes of that architecture cannot run it` });
    }
  } else {
    const p = r.platforms[0];
    const plat = p?.config.os && p.config.architecture ? `${p.config.os}/${p.config.architecture}` : 'one platform';
    out.push({ code: plat === 'linux/arm64' ? 'NO_AMD64' : 'NO_ARM64', severity: 'warn', detail: `single-platform image (${plat}), no index: build with --platform linux/amd64,linux/arm64` });
  }
  for (const p of r.platforms) {
    if (p.layers.length > MANY_LAYERS)
      out.push({
        code: 'MANY_LAYERS',
        severity: 'warn',
        detail: `${p.platform}: ${p.layers.length} layers; each costs a request and an overlay mount (the kernel limit is near 128); squash RUN steps or use a multi-stage build`,
      });
    const big = [...p.layers].sort((a, b) => b.size - a.size)[0];
    if (big && (big.size >= HUGE_LAYER_BYTES || (p.totalBytes > 200 * 1024 ** 2 && big.size > 0.8 * p.totalBytes))) {
      out.push({
        code: 'HUGE_LAYER',
        severity: 'warn',
        detail: `${p.platform}: one layer holds ${(big.size / 1024 ** 2).toFixed(0)} MiB of ${(p.totalBytes / 1024 ** 2).toFixed(0)} MiB; it downloads and unpacks in one piece, and any change re-sends all of it: split data from code`,
      });
    }
  }
  return out;
}

/** Layers shared between images on one platform, and what sharing saves. Pure. */
export function sharing(reports: ImageReport[], platform: string): SharingReport {
  const by = new Map<string, SharedLayer>();
  let total = 0;
  let counted = 0;
  for (const r of reports) {
    const p = r.platforms.find((x) => x.platform === platform || x.platform.startsWith(`${platform}/`)) ?? (r.platforms.length === 1 ? r.platforms[0] : undefined);
    if (!p) continue;
    counted++;
    for (const l of p.layers) {
      total += l.size;
      const s = by.get(l.digest) ?? { digest: l.digest, size: l.size, images: [] };
      if (!s.images.includes(r.ref)) s.images.push(r.ref);
      by.set(l.digest, s);
    }
  }
  const shared = [...by.values()].filter((s) => s.images.length > 1).sort((a, b) => b.size * (b.images.length - 1) - a.size * (a.images.length - 1));
  const saved = shared.reduce((n, s) => n + s.size * (s.images.length - 1), 0);
  return { platform, images: counted, totalBytes: total, uniqueBytes: total - saved, savedBytes: saved, shared };
}

function summarizeConfig(doc: unknown): ConfigSummary {
  const d = (doc ?? {}) as { created?: string; os?: string; architecture?: string; config?: { Entrypoint?: string[]; Cmd?: string[]; User?: string; WorkingDir?: string } };
  const c = d.config ?? {};
  return {
    ...(d.created ? { created: d.created } : {}),
    ...(c.Entrypoint ? { entrypoint: c.Entrypoint } : {}),
    ...(c.Cmd ? { cmd: c.Cmd } : {}),
    user: c.User || 'root (unset)',
    ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
    ...(d.os ? { os: d.os } : {}),
    ...(d.architecture ? { architecture: d.architecture } : {}),
  };
}

async function inspectOne(ref: string, o: InspectOptions): Promise<ImageReport> {
  let parsed;
  try {
    parsed = parseImageRef(ref);
  } catch (e) {
    return { ref, registry: '', name: '', reference: '', platforms: [], findings: [], error: (e as Error).message };
  }
  const reference = parsed.digest ?? parsed.tag ?? 'latest';
  const base: ImageReport = { ref, registry: parsed.registry, name: parsed.name, reference, platforms: [], findings: [] };
  const endpoint = o.via ?? `${o.plainHttp ? 'http' : 'https'}://${apiHost(parsed.registry)}`;
  const c = new ImageClient({
    endpoint,
    registry: parsed.registry,
    insecure: !!o.insecure,
    ...(o.caFile ? { caFile: o.caFile } : {}),
    ...(o.username !== undefined ? { username: o.username, password: o.password ?? '' } : {}),
    timeoutMs: o.timeoutMs ?? 30_000,
    tool: 'inspect',
  });
  try {
    const r = await c.resolve(parsed);
    Object.assign(base, { digest: r.top.digest, mediaType: r.top.mediaType });
    if (r.top.mediaType === MT.dockerSchema1 || r.top.mediaType === MT.dockerSchema1Signed) return { ...base, findings: imageFindings(base, []) };
    const targets = isIndex(r.top.info!.mediaType) ? r.platforms : [undefined];
    for (const p of targets) {
      const m = await c.forPlatform(parsed, r, p);
      if (!m) continue;
      const layers = m.info.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
      const config = m.info.config ? summarizeConfig(await c.json(parsed.name, m.info.config.digest).catch(() => ({}))) : {};
      const platform = p ?? (config.os && config.architecture ? `${config.os}/${config.architecture}` : 'unknown');
      base.platforms.push({ platform, digest: m.digest, layers, totalBytes: layers.reduce((n, l) => n + l.size, 0) + (m.info.config?.size ?? 0), config });
    }
    base.findings = imageFindings(base, r.platforms);
    return base;
  } catch (e) {
    return { ...base, error: e instanceof ManifestError ? `manifest request answered ${e.status}` : errorText(e) };
  } finally {
    await c.close().catch(() => undefined);
  }
}

export async function inspectImages(refs: string[], o: InspectOptions = {}): Promise<{ images: ImageReport[]; sharing?: SharingReport }> {
  const images = await Promise.all(refs.map((r) => inspectOne(r, o)));
  return refs.length > 1
    ? {
        images,
        sharing: sharing(
          images.filter((i) => !i.error),
          o.platform ?? 'linux/amd64',
        ),
      }
    : { images };
}
