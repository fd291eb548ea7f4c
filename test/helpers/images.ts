// Generates small but real container images (gzipped ustar layers, valid image configs) and pushes
// them through the OCI distribution HTTP API, so that real clients (podman, ctr, dockerd, skopeo)
// can pull and unpack what the tests put in a registry.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export type ImageFormat = 'oci' | 'docker';
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}
export interface BasicAuth {
  user: string;
  password: string;
}
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface PushImageOptions {
  layers: number;
  /** Bytes of random file content per layer (the tar/gzip framing adds a little). */
  layerSize: number;
  format?: ImageFormat;
  platform?: Platform;
  auth?: BasicAuth;
}

export interface PushedLayer {
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  mediaType: string;
  /** The gzipped blob as pushed (tests compare it with what comes back through the gateway). */
  bytes?: Buffer;
}

export interface PushedImage {
  manifestDigest: string;
  manifest: Buffer;
  mediaType: string;
  config: { digest: string; size: number; bytes: Buffer };
  layers: PushedLayer[];
  platform: Platform;
}

export interface PushedIndex {
  digest: string;
  manifest: Buffer;
  mediaType: string;
  children: PushedImage[];
}

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

// ---- tar ---------------------------------------------------------------------------------------

/** Writes an octal numeric field the way ustar wants it: zero-padded, NUL-terminated. */
function octal(buf: Buffer, value: number, offset: number, width: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

/**
 * One ustar header block for a regular file. Only what unpackers need: name, mode, uid/gid, size,
 * mtime, type '0', the "ustar\000" magic, and the checksum computed with the checksum field
 * treated as eight spaces (that is the format's rule).
 */
export function ustarHeader(name: string, size: number, mode = 0o644, mtime = 0): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, 'utf8');
  octal(h, mode, 100, 8);
  octal(h, 0, 108, 8); // uid
  octal(h, 0, 116, 8); // gid
  octal(h, size, 124, 12); // 11 octal digits: files up to 8 GiB, far beyond what tests push
  octal(h, mtime, 136, 12);
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** A complete tar holding the given files: header + data padded to 512 + two zero end blocks. */
export function makeTar(files: { name: string; data: Buffer; mode?: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(ustarHeader(f.name, f.data.length, f.mode));
    parts.push(f.data);
    const pad = (512 - (f.data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---- image generation --------------------------------------------------------------------------

export interface BuiltImage {
  manifest: Buffer;
  mediaType: string;
  manifestDigest: string;
  config: { digest: string; size: number; bytes: Buffer; mediaType: string };
  layers: (PushedLayer & { bytes: Buffer })[];
  platform: Platform;
}

/**
 * Builds an image in memory. Layer content is crypto.randomBytes (fast, and unique per call so
 * images never share blobs by accident). gzip level 0 — stored blocks, still a valid gzip stream
 * every client unpacks — because random data does not compress anyway and deflating it ran at
 * ~30 MB/s, against ~200 MB/s stored.
 */
export function buildImage(opts: Omit<PushImageOptions, 'auth'>): BuiltImage {
  const format = opts.format ?? 'oci';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerMT = format === 'oci' ? MT.ociLayer : MT.dockerLayer;
  const layers: BuiltImage['layers'] = [];
  for (let i = 0; i < opts.layers; i++) {
    const tar = makeTar([{ name: `regway-layer-${i}-${randomBytes(6).toString('hex')}.bin`, data: randomBytes(opts.layerSize) }]);
    const gz = gzipSync(tar, { level: 0 });
    layers.push({ digest: sha256(gz), size: gz.length, diffId: sha256(tar), mediaType: layerMT, bytes: gz });
  }
  const now = new Date().toISOString();
  const configJson = {
    created: now,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: now, created_by: `regway test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const config = {
    digest: sha256(configBytes),
    size: configBytes.length,
    bytes: configBytes,
    mediaType: format === 'oci' ? MT.ociConfig : MT.dockerConfig,
  };
  const mediaType = format === 'oci' ? MT.ociManifest : MT.dockerManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { manifest, mediaType, manifestDigest: sha256(manifest), config, layers, platform };
}

// ---- registry HTTP client ----------------------------------------------------------------------

/**
 * Minimal registry session: adds Basic auth pre-emptively (distribution's htpasswd mode answers 401
 * with a Basic challenge), and if the registry instead answers with a Bearer challenge, fetches a
 * token from the realm (using the same credentials) and retries once.
 */
class Session {
  private bearer: string | undefined;
  constructor(
    readonly base: string,
    private readonly auth?: BasicAuth,
  ) {}

  private authHeader(): Record<string, string> {
    if (this.bearer) return { authorization: `Bearer ${this.bearer}` };
    if (this.auth) return { authorization: 'Basic ' + Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64') };
    return {};
  }

  async fetch(pathOrUrl: string, init: { method: string; headers?: Record<string, string>; body?: Buffer }): Promise<Response> {
    const url = new URL(pathOrUrl, this.base).toString();
    const go = (): Promise<Response> =>
      fetch(url, {
        method: init.method,
        headers: { ...init.headers, ...this.authHeader() },
        // Copy into a plain ArrayBuffer-backed view: that is what the DOM BodyInit type accepts.
        body: init.body ? new Uint8Array(init.body) : undefined,
        redirect: 'follow',
      });
    let res = await go();
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (/^bearer /i.test(challenge) && !this.bearer) {
        await res.arrayBuffer();
        this.bearer = await this.fetchToken(challenge);
        res = await go();
      }
    }
    return res;
  }

  private async fetchToken(challenge: string): Promise<string> {
    const params: Record<string, string> = {};
    for (const m of challenge.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
    if (!params.realm) throw new Error(`bearer challenge without realm: ${challenge}`);
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    if (params.scope) u.searchParams.set('scope', params.scope);
    const headers: Record<string, string> = {};
    if (this.auth) headers.authorization = 'Basic ' + Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64');
    const res = await fetch(u, { headers });
    if (!res.ok) throw new Error(`token endpoint ${u} answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const tok = body.token ?? body.access_token;
    if (!tok) throw new Error('token endpoint returned no token');
    return tok;
  }
}

async function expectStatus(res: Response, ok: number[], what: string): Promise<void> {
  if (!ok.includes(res.status)) {
    const text = await res.text().catch(() => '');
    throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
}

/** Monolithic blob upload: POST to open a session, PUT the bytes with ?digest=. Skips blobs that
 * already exist (HEAD 200), like real clients do. */
async function pushBlob(s: Session, name: string, bytes: Buffer, digest = sha256(bytes)): Promise<void> {
  const head = await s.fetch(`/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
  await head.arrayBuffer();
  if (head.status === 200) return;
  const post = await s.fetch(`/v2/${name}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  await expectStatus(post, [202], `POST blob upload ${name}`);
  await post.arrayBuffer();
  const location = post.headers.get('location');
  if (!location) throw new Error('blob upload: no Location header');
  const putUrl = new URL(location, s.base);
  putUrl.searchParams.set('digest', digest);
  const put = await s.fetch(putUrl.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  });
  await expectStatus(put, [201], `PUT blob ${digest}`);
  await put.arrayBuffer();
}

async function pushManifest(s: Session, name: string, reference: string, body: Buffer, mediaType: string): Promise<Response> {
  const res = await s.fetch(`/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body,
  });
  await expectStatus(res, [201], `PUT manifest ${name}:${reference}`);
  await res.arrayBuffer();
  const got = res.headers.get('docker-content-digest');
  if (got && got !== sha256(body)) throw new Error(`registry computed ${got}, expected ${sha256(body)}`);
  return res;
}

async function pushBuilt(s: Session, name: string, reference: string, img: BuiltImage): Promise<PushedImage> {
  // Blobs in parallel: several MB each, and the registry is local, so this is the slow part.
  await Promise.all([...img.layers.map((l) => pushBlob(s, name, l.bytes, l.digest)), pushBlob(s, name, img.config.bytes, img.config.digest)]);
  await pushManifest(s, name, reference, img.manifest, img.mediaType);
  return {
    manifestDigest: img.manifestDigest,
    manifest: img.manifest,
    mediaType: img.mediaType,
    config: { digest: img.config.digest, size: img.config.size, bytes: img.config.bytes },
    layers: img.layers,
    platform: img.platform,
  };
}

/** Generates and pushes a single-platform image as name:tag. */
export async function pushImage(registryUrl: string, name: string, tag: string, opts: PushImageOptions): Promise<PushedImage> {
  const s = new Session(registryUrl, opts.auth);
  return pushBuilt(s, name, tag, buildImage(opts));
}

/**
 * Pushes one image per platform (by digest, untagged) and then an OCI index — or a Docker manifest
 * list when format is 'docker' — tagged name:tag.
 */
export async function pushIndex(
  registryUrl: string,
  name: string,
  tag: string,
  platforms: Platform[],
  opts: Omit<PushImageOptions, 'platform'>,
): Promise<PushedIndex> {
  const s = new Session(registryUrl, opts.auth);
  const children: PushedImage[] = [];
  for (const platform of platforms) {
    const img = buildImage({ ...opts, platform });
    children.push(await pushBuilt(s, name, img.manifestDigest, img));
  }
  const mediaType = opts.format === 'docker' ? MT.dockerList : MT.ociIndex;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.manifestDigest, size: c.manifest.length, platform: c.platform })),
    }),
  );
  await pushManifest(s, name, tag, manifest, mediaType);
  return { digest: sha256(manifest), manifest, mediaType, children };
}

export interface PushedReferrer {
  digest: string;
  manifest: Buffer;
  descriptor: Descriptor;
  /** True when the registry did not acknowledge the subject (no OCI-Subject header) and we
   * maintained the referrers tag schema index `sha256-<hex>` ourselves, per OCI distribution 1.1. */
  usedFallbackTag: boolean;
}

/**
 * Pushes an OCI 1.1 artifact manifest referring to subjectDigest. The config is the empty
 * descriptor `{}`; the single layer is a small JSON payload of the artifact type. Registries without
 * the referrers API (distribution 2.8) get the fallback tag index updated, as real clients (oras,
 * cosign) do, so either discovery path works for the tests.
 */
export async function pushReferrer(
  registryUrl: string,
  name: string,
  subjectDigest: string,
  artifactType: string,
  opts: { auth?: BasicAuth; subjectMediaType?: string; subjectSize?: number; annotations?: Record<string, string> } = {},
): Promise<PushedReferrer> {
  const s = new Session(registryUrl, opts.auth);
  let subjectMediaType = opts.subjectMediaType;
  let subjectSize = opts.subjectSize;
  if (subjectMediaType === undefined || subjectSize === undefined) {
    const head = await s.fetch(`/v2/${name}/manifests/${subjectDigest}`, {
      method: 'HEAD',
      headers: { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') },
    });
    await expectStatus(head, [200], `HEAD subject ${subjectDigest}`);
    subjectMediaType ??= (head.headers.get('content-type') ?? MT.ociManifest).split(';')[0]!;
    subjectSize ??= Number(head.headers.get('content-length'));
  }
  const empty = Buffer.from('{}');
  const payload = Buffer.from(JSON.stringify({ artifactType, nonce: randomBytes(8).toString('hex') }));
  await pushBlob(s, name, empty);
  await pushBlob(s, name, payload);
  const annotations = { 'org.opencontainers.image.created': new Date().toISOString(), ...opts.annotations };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType,
      config: { mediaType: MT.ociEmpty, digest: sha256(empty), size: empty.length },
      layers: [{ mediaType: 'application/json', digest: sha256(payload), size: payload.length }],
      subject: { mediaType: subjectMediaType, digest: subjectDigest, size: subjectSize },
      annotations,
    }),
  );
  const digest = sha256(manifest);
  const res = await pushManifest(s, name, digest, manifest, MT.ociManifest);
  const descriptor: Descriptor = { mediaType: MT.ociManifest, digest, size: manifest.length, artifactType, annotations };
  let usedFallbackTag = false;
  if (!res.headers.get('oci-subject')) {
    usedFallbackTag = true;
    const fallbackTag = subjectDigest.replace(':', '-');
    const cur = await s.fetch(`/v2/${name}/manifests/${fallbackTag}`, { method: 'GET', headers: { accept: MT.ociIndex } });
    let manifests: Descriptor[] = [];
    if (cur.status === 200) manifests = ((await cur.json()) as { manifests?: Descriptor[] }).manifests ?? [];
    else await cur.arrayBuffer();
    manifests = [...manifests.filter((m) => m.digest !== digest), descriptor];
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests }));
    await pushManifest(s, name, fallbackTag, idx, MT.ociIndex);
  }
  return { digest, manifest, descriptor, usedFallbackTag };
}

/** Pushes an already built image (so the same bytes can go to several registries: mirror + origin). */
export async function pushBuiltImage(registryUrl: string, name: string, tag: string, img: BuiltImage, auth?: BasicAuth): Promise<PushedImage> {
  return pushBuilt(new Session(registryUrl, auth), name, tag, img);
}

/** Pushes blobs, then a manifest referencing them, as name:reference (artifacts: signatures, attestations). */
export async function pushManifestWithBlobs(registryUrl: string, name: string, reference: string, blobs: Buffer[], manifest: Buffer, mediaType: string, auth?: BasicAuth): Promise<{ digest: string; subjectAcknowledged: boolean }> {
  const s = new Session(registryUrl, auth);
  for (const b of blobs) await pushBlob(s, name, b);
  const res = await pushManifest(s, name, reference, manifest, mediaType);
  return { digest: sha256(manifest), subjectAcknowledged: res.headers.get('oci-subject') !== null };
}
