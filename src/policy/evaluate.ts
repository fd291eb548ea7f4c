import { isIndex, type ManifestInfo } from '../oci/manifest.js';
import { MT } from '../oci/mediatypes.js';
import type { RepoKey } from '../oci/repo.js';
import type { RepositoryReader } from '../oci/registry.js';
import { attachedManifests, readPayload } from './attached.js';
import { verdict, type Verdict } from './verdict.js';

export { verdict, type Reason, type Verdict } from './verdict.js';
import { COSIGN_SIG_ARTIFACT, MAX_PAYLOAD_BYTES, MAX_SIGNATURES, checkSignature, signatureLayers, signatureTag, type SignatureCheck } from './cosign.js';
import type { Policy } from './rules.js';
import { checkReports } from './reports.js';

/**
 * Manifests no runtime can run are not policed: signatures, attestations and SBOMs have no
 * filesystem layer, and clients need them to verify (podman fetches the .sig itself). An index is
 * exempt when it lists only artifacts (the referrers fallback tag); the images it lists would be
 * policed on their own.
 */
export function isArtifact(info: ManifestInfo): boolean {
  if (isIndex(info.mediaType)) return info.manifests.length > 0 && info.manifests.every((d) => d.artifactType !== undefined && d.platform === undefined);
  if (info.layers.length === 0) return info.config?.mediaType !== MT.ociConfig && info.config?.mediaType !== MT.dockerConfig;
  return info.layers.every((l) => ARTIFACT_LAYERS.has(l.mediaType));
}

/**
 * Layer types that are never a filesystem: an allow-list, because the types are the upstream's (or
 * the pusher's) bytes. A deny-list of tar types let a tarball labelled application/octet-stream be
 * served unsigned under an enforcing policy; dockerd decompresses by the bytes, not the label.
 */
const ARTIFACT_LAYERS = new Set([
  'application/vnd.dev.cosign.simplesigning.v1+json',
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.in-toto+json',
  'application/vnd.cncf.notary.signature',
  'application/spdx+json',
  'text/spdx+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.syft+json',
]);

/**
 * The verdict of a policy on one manifest. Signatures are fetched through `reader`, the same
 * (unpoliced) reader that serves the repository: through the cache, within this repository.
 */
export async function evaluate(reader: RepositoryReader, policy: Policy, repo: RepoKey, digest: string, opts: EvaluateOptions): Promise<Verdict> {
  if (policy.allowDigests.has(digest)) return verdict(true, 'allow-listed');
  const sig = policy.require === 'none' ? verdict(true, 'not-required') : opts.signedByIndex ? verdict(true, 'signed-index') : await checkSignatures(reader, policy, repo, digest);
  // Vulnerabilities belong to platform images: an index (no packages of its own) is judged by its signature.
  if (!sig.allow || !policy.vulnerabilities || opts.index) return sig;
  return checkReports(reader, policy.vulnerabilities, repo, digest, opts.now);
}

export interface EvaluateOptions {
  /** The manifest is an index. */
  index: boolean;
  /** An index listing it passed its signature check (cosign signs the index a tag points at). */
  signedByIndex: boolean;
  now: number;
}

async function checkSignatures(reader: RepositoryReader, policy: Policy, repo: RepoKey, digest: string): Promise<Verdict> {
  const found = await attachedManifests(reader, repo, digest, signatureTag(digest), COSIGN_SIG_ARTIFACT, MAX_SIGNATURES);
  const checks: SignatureCheck[] = [];
  for (const sig of found.manifests) {
    for (const layer of signatureLayers(sig)) {
      const payload = await readPayload(reader, repo, layer.digest, MAX_PAYLOAD_BYTES).catch(() => undefined);
      if (!payload) {
        found.unavailable = true;
        continue;
      }
      const c = checkSignature(payload, layer.signature, policy.keys, digest);
      if (c === 'valid') return verdict(true, 'signed');
      checks.push(c);
    }
  }
  if (found.unavailable) return verdict(false, 'signatures-unavailable');
  if (checks.length === 0) return verdict(false, 'unsigned');
  return verdict(false, checks.includes('wrong-digest') ? 'wrong-digest' : 'unknown-key');
}
