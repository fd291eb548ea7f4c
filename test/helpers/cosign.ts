// Cosign key-based signatures, written by the test in cosign's own format (what `cosign sign --key`
// pushes), so that podman's sigstoreSigned policy, an independent verifier, can check them too:
// a manifest whose layer is the simple-signing payload, its base64 ECDSA signature in the
// dev.cosignproject.cosign/signature annotation, tagged sha256-<hex>.sig (or, OCI 1.1, a referrer
// of artifactType application/vnd.dev.cosign.artifact.sig.v1+json with the fallback tag index).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MT, pushManifestWithBlobs, sha256, type BasicAuth } from './images.js';

export interface TestKey {
  privateKey: KeyObject;
  publicPem: string;
}

export function makeKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function writePublicKey(dir: string, name: string, key: TestKey): string {
  const file = join(dir, `${name}.pub`);
  writeFileSync(file, key.publicPem);
  return file;
}

export function simpleSigning(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
}

export interface SignOptions {
  /** The name clients will verify the signature against (podman: the reference it pulls). */
  dockerReference: string;
  /** tag: the sha256-<hex>.sig tag (cosign's default); referrer: an OCI 1.1 referrer. */
  mode?: 'tag' | 'referrer';
  /** Sign this digest's payload but attach to `digest` (a signature copied from another image). */
  payloadDigest?: string;
  auth?: BasicAuth;
}

/** Signs `digest` in repository `name` of the registry with `key`, as cosign does. Returns the signature manifest's digest. */
export async function cosignSign(registryUrl: string, name: string, digest: string, key: TestKey, opts: SignOptions): Promise<string> {
  const payload = simpleSigning(opts.dockerReference, opts.payloadDigest ?? digest);
  const signature = sign('sha256', payload, key.privateKey).toString('base64');
  const config = Buffer.from(
    JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [sha256(payload)] }, config: {} }),
  );
  const layer = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', size: payload.length, digest: sha256(payload), annotations: { 'dev.cosignproject.cosign/signature': signature } };
  const referrer = opts.mode === 'referrer';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      ...(referrer ? { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' } : {}),
      config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
      layers: [layer],
      ...(referrer ? { subject: await subjectOf(registryUrl, name, digest) } : {}),
    }),
  );
  const ref = referrer ? sha256(manifest) : `${digest.replace(':', '-')}.sig`;
  const pushed = await pushManifestWithBlobs(registryUrl, name, ref, [config, payload], manifest, MT.ociManifest, opts.auth);
  if (referrer && !pushed.subjectAcknowledged)
    await addToFallbackIndex(registryUrl, name, digest, { mediaType: MT.ociManifest, digest: pushed.digest, size: manifest.length, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
  return pushed.digest;
}

export async function subjectOf(registryUrl: string, name: string, digest: string) {
  const r = await fetch(`${registryUrl}/v2/${name}/manifests/${digest}`, { method: 'HEAD', headers: { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') } });
  return { mediaType: r.headers.get('content-type')!, digest, size: Number(r.headers.get('content-length')) };
}

/** The referrers tag schema (distribution 2.8 has no referrers API): the index tagged sha256-<hex>. */
export async function addToFallbackIndex(registryUrl: string, name: string, subject: string, d: Record<string, unknown>): Promise<void> {
  const tag = subject.replace(':', '-');
  const cur = await fetch(`${registryUrl}/v2/${name}/manifests/${tag}`, { headers: { accept: MT.ociIndex } });
  const manifests = cur.status === 200 ? ((await cur.json()) as { manifests: unknown[] }).manifests : (await cur.arrayBuffer(), []);
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [...manifests, d] }));
  await pushManifestWithBlobs(registryUrl, name, tag, [], idx, MT.ociIndex);
}
