import { createHash } from 'node:crypto';
import { isRegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { isIndex, parseManifest, type ManifestInfo } from '../oci/manifest.js';
import { MT } from '../oci/mediatypes.js';
import type { RepoKey } from '../oci/repo.js';
import type { BlobResult, RepositoryReader } from '../oci/registry.js';
import { COSIGN_SIG_ARTIFACT, MAX_PAYLOAD_BYTES, MAX_SIGNATURES, checkSignature, signatureLayers, signatureTag, type SignatureCheck } from './cosign.js';
import type { Policy } from './rules.js';

/** Why a manifest was served or refused; the names are the `reason` label of the metrics and the audit log. */
export type Reason =
  | 'signed' | 'signed-index' | 'allow-listed' | 'not-required' | 'artifact'
  | 'unsigned' | 'unknown-key' | 'wrong-digest' | 'signatures-unavailable';

export interface Verdict { allow: boolean; reason: Reason; /** A sentence for the client and the operator: what was found, what would pass. */ detail: string }

const EXPLAIN: Record<Reason, string> = {
  'signed': 'signed by a trusted key',
  'signed-index': 'listed by a signed index',
  'allow-listed': 'digest is in allowDigests',
  'not-required': 'the policy requires no signature',
  'artifact': 'not a runnable image (signature, attestation or other artifact)',
  'unsigned': 'unsigned: no cosign signature (neither the sha256-<hex>.sig tag nor a referrer); sign it with a trusted key',
  'unknown-key': "signature by an unknown key: no signature verifies with the policy's keys",
  'wrong-digest': 'a signature by a trusted key names another manifest digest (copied from another image)',
  'signatures-unavailable': 'signatures could not be fetched (every upstream failed); try again',
};

export function verdict(allow: boolean, reason: Reason): Verdict { return { allow, reason, detail: EXPLAIN[reason] }; }

/**
 * Manifests no runtime can run are not policed: signatures, attestations and SBOMs have no
 * filesystem layer, and clients need them to verify (podman fetches the .sig itself). An index is
 * exempt when it lists only artifacts (the referrers fallback tag); the images it lists would be
 * policed on their own.
 */
export function isArtifact(info: ManifestInfo): boolean {
  if (isIndex(info.mediaType)) return info.manifests.length > 0 && info.manifests.every((d) => d.artifactType !== undefined && d.platform === undefined);
  if (info.layers.length === 0) return info.config?.mediaType !== MT.ociConfig && info.config?.mediaType !== MT.dockerConfig;
  return info.layers.every((l) => !/\.tar|rootfs\.diff|image\.layer\./.test(l.mediaType));
}

/**
 * The verdict of a policy on one manifest. Signatures are fetched through `reader`, the same
 * (unpoliced) reader that serves the repository: through the cache, within this repository.
 */
export async function evaluate(reader: RepositoryReader, policy: Policy, repo: RepoKey, digest: string): Promise<Verdict> {
  if (policy.allowDigests.has(digest)) return verdict(true, 'allow-listed');
  if (policy.require === 'none') return verdict(true, 'not-required');
  const found = await signatureManifests(reader, repo, digest);
  const checks: SignatureCheck[] = [];
  for (const sig of found.manifests) {
    for (const layer of signatureLayers(sig)) {
      const payload = await readPayload(reader, repo, layer.digest).catch(() => undefined);
      if (!payload) { found.unavailable = true; continue; }
      const c = checkSignature(payload, layer.signature, policy.keys, digest);
      if (c === 'valid') return verdict(true, 'signed');
      checks.push(c);
    }
  }
  if (found.unavailable) return verdict(false, 'signatures-unavailable');
  if (checks.length === 0) return verdict(false, 'unsigned');
  return verdict(false, checks.includes('wrong-digest') ? 'wrong-digest' : 'unknown-key');
}

const absent = (e: unknown) => isRegistryError(e, 'MANIFEST_UNKNOWN') || isRegistryError(e, 'NAME_UNKNOWN');

async function signatureManifests(reader: RepositoryReader, repo: RepoKey, digest: string): Promise<{ manifests: ManifestInfo[]; unavailable: boolean }> {
  const manifests: ManifestInfo[] = [];
  let unavailable = false;
  const add = async (ref: { kind: 'tag' | 'digest'; value: string }) => {
    try {
      const m = await reader.manifest(repo, ref);
      manifests.push(parseManifest(m.bytes, m.mediaType));
    } catch (e) {
      if (!absent(e)) unavailable = true;
    }
  };
  await add({ kind: 'tag', value: signatureTag(digest) });
  try {
    const r = await reader.referrers(repo, parseDigest(digest), COSIGN_SIG_ARTIFACT);
    const sigs = r.manifests.filter((d) => d.artifactType === COSIGN_SIG_ARTIFACT).slice(0, MAX_SIGNATURES);
    for (const d of sigs) await add({ kind: 'digest', value: d.digest });
  } catch (e) {
    if (!absent(e)) unavailable = true;
  }
  return { manifests, unavailable };
}

/** A signature payload, read whole (bounded) and checked against its digest: upstream bytes are hostile. */
async function readPayload(reader: RepositoryReader, repo: RepoKey, digest: string): Promise<Buffer | undefined> {
  const d = parseDigest(digest);
  if (d.algorithm !== 'sha256') return undefined;
  const r = await reader.blob(repo, d, { head: false });
  const bytes = await readBounded(r, MAX_PAYLOAD_BYTES);
  if (!bytes) return undefined;
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` === digest ? bytes : undefined;
}

async function readBounded(r: BlobResult, max: number): Promise<Buffer | undefined> {
  if (r.size > max) { r.body?.destroy(); r.file?.release(); return undefined; }
  if (r.file) {
    const f = r.file;
    try {
      const buf = Buffer.alloc(f.end - f.start + 1);
      const { bytesRead } = await f.fh.read(buf, 0, buf.length, f.start);
      return buf.subarray(0, bytesRead);
    } finally { f.release(); }
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body ?? []) {
    n += (c as Buffer).length;
    if (n > max) { r.body?.destroy(); return undefined; }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
