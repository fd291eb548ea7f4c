import { verify, type KeyObject } from 'node:crypto';
import type { ManifestInfo } from '../oci/manifest.js';

/**
 * Cosign's key-based signature format, as cosign writes it and containers/image (podman's
 * `sigstoreSigned`) reads it: a manifest tagged `sha256-<hex>.sig` (or, with OCI 1.1, a referrer of
 * artifactType COSIGN_SIG_ARTIFACT) whose layers are simple-signing payloads, each carrying its
 * signature, base64 of an ASN.1 ECDSA signature over SHA-256 of the payload, in an annotation.
 */
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** Payloads larger than this are not signatures (cosign's are ~250 bytes): refused unread. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Signatures looked at per manifest: a hostile upstream cannot make us verify thousands. */
export const MAX_SIGNATURES = 16;

/** The tag cosign stores an image's signatures under. */
export function signatureTag(digest: string): string {
  return digest.replace(':', '-') + '.sig';
}

export interface SignatureLayer {
  digest: string;
  size: number;
  signature: string;
}

/** The simple-signing layers of a signature manifest that carry a signature (bounded). */
export function signatureLayers(info: ManifestInfo): SignatureLayer[] {
  const out: SignatureLayer[] = [];
  for (const l of info.layers) {
    const signature = l.annotations?.[SIGNATURE_ANNOTATION];
    if (l.mediaType !== SIMPLE_SIGNING || typeof signature !== 'string' || l.size > MAX_PAYLOAD_BYTES) continue;
    out.push({ digest: l.digest, size: l.size, signature });
    if (out.length === MAX_SIGNATURES) break;
  }
  return out;
}

export type SignatureCheck = 'valid' | 'unknown-key' | 'wrong-digest';

/**
 * One signature against the trusted keys. The signature is checked first (an unverified payload's
 * claims mean nothing), then what it signs: a cosign image signature naming `digest`. The
 * payload's docker-reference is not compared: through a gateway or a mirror the name differs.
 */
export function checkSignature(payload: Buffer, signatureB64: string, keys: readonly KeyObject[], digest: string): SignatureCheck {
  const sig = Buffer.from(signatureB64, 'base64');
  if (!keys.some((k) => verifies(payload, sig, k))) return 'unknown-key';
  return signedDigest(payload) === digest ? 'valid' : 'wrong-digest';
}

function verifies(payload: Buffer, sig: Buffer, key: KeyObject): boolean {
  try {
    // Ed25519 takes no hash; ECDSA and RSA keys sign SHA-256, as cosign does.
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key, sig);
  } catch {
    return false;
  }
}

/** The manifest digest a simple-signing payload signs, when it is a cosign image signature. */
export function signedDigest(payload: Buffer): string | undefined {
  try {
    const doc = JSON.parse(payload.toString('utf8')) as { critical?: { type?: unknown; image?: { 'docker-manifest-digest'?: unknown } } };
    const c = doc.critical;
    if (c?.type !== COSIGN_SIGNATURE_TYPE) return undefined;
    const d = c.image?.['docker-manifest-digest'];
    return typeof d === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/** The simple-signing payload cosign signs for an image (what `cosign sign` and `cosign generate` write). */
export function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE },
      optional: null,
    }),
  );
}
