import { createHash } from 'node:crypto';
import { isRegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { parseManifest, type ManifestInfo } from '../oci/manifest.js';
import type { RepoKey } from '../oci/repo.js';
import type { BlobResult, RepositoryReader } from '../oci/registry.js';

// Signatures and attestations attached to a manifest, fetched through the repository's own reader
// (the cache, this repository only): cosign's tag and OCI 1.1 referrers. Upstream bytes are hostile.

const absent = (e: unknown) => isRegistryError(e, 'MANIFEST_UNKNOWN') || isRegistryError(e, 'NAME_UNKNOWN');

/** The manifests attached to `digest` under cosign's `tag` and as referrers of `artifactType` (at most `limit` of those). */
export async function attachedManifests(
  reader: RepositoryReader,
  repo: RepoKey,
  digest: string,
  tag: string,
  artifactType: string,
  limit: number,
): Promise<{ manifests: ManifestInfo[]; unavailable: boolean }> {
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
  await add({ kind: 'tag', value: tag });
  try {
    const r = await reader.referrers(repo, parseDigest(digest), artifactType);
    const sigs = r.manifests.filter((d) => d.artifactType === artifactType).slice(0, limit);
    for (const d of sigs) await add({ kind: 'digest', value: d.digest });
  } catch (e) {
    if (!absent(e)) unavailable = true;
  }
  return { manifests, unavailable };
}

/** A signature payload or attestation, read whole (bounded) and checked against its digest: upstream bytes are hostile. */
export async function readPayload(reader: RepositoryReader, repo: RepoKey, digest: string, max: number): Promise<Buffer | undefined> {
  const d = parseDigest(digest);
  if (d.algorithm !== 'sha256') return undefined;
  const r = await reader.blob(repo, d, { head: false });
  const bytes = await readBounded(r, max);
  if (!bytes) return undefined;
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` === digest ? bytes : undefined;
}

async function readBounded(r: BlobResult, max: number): Promise<Buffer | undefined> {
  if (r.size > max) {
    r.body?.destroy();
    r.file?.release();
    return undefined;
  }
  if (r.file) {
    const f = r.file;
    try {
      const buf = Buffer.alloc(f.end - f.start + 1);
      const { bytesRead } = await f.fh.read(buf, 0, buf.length, f.start);
      return buf.subarray(0, bytesRead);
    } finally {
      f.release();
    }
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body ?? []) {
    n += (c as Buffer).length;
    if (n > max) {
      r.body?.destroy();
      return undefined;
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
