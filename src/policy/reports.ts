import type { KeyObject } from 'node:crypto';
import type { ManifestInfo } from '../oci/manifest.js';
import type { RepoKey } from '../oci/repo.js';
import type { RepositoryReader } from '../oci/registry.js';
import { attachedManifests, readPayload } from './attached.js';
import { verdict, type Verdict } from './verdict.js';
import { DSSE_ENVELOPE, MAX_ENVELOPE_BYTES, MAX_REPORTS, PREDICATE_ANNOTATION, VULN_PREDICATE, attestationTag, checkEnvelope, judgeReport, type VulnLimits, type VulnReport } from './vuln.js';

/** The DSSE envelopes of an attestation manifest that may be vulnerability reports (cosign names the predicate in an annotation). */
export function envelopeLayers(info: ManifestInfo): string[] {
  return info.layers.filter((l) => l.mediaType === DSSE_ENVELOPE && l.size <= MAX_ENVELOPE_BYTES && (l.annotations?.[PREDICATE_ANNOTATION] ?? VULN_PREDICATE) === VULN_PREDICATE).map((l) => l.digest);
}

/**
 * The vulnerability verdict on a platform image: the newest trusted report for this digest (the
 * `.att` tag and DSSE referrers, fetched through `reader` like signatures), judged against the limits.
 */
export async function checkReports(reader: RepositoryReader, limits: VulnLimits & { keys: KeyObject[] }, repo: RepoKey, digest: string, now: number): Promise<Verdict> {
  const found = await attachedManifests(reader, repo, digest, attestationTag(digest), DSSE_ENVELOPE, MAX_REPORTS);
  const envelopes = found.manifests.flatMap(envelopeLayers).slice(0, MAX_REPORTS);
  const valid: VulnReport[] = [];
  let untrusted = false;
  let unreadable = false;
  for (const layer of envelopes) {
    const bytes = await readPayload(reader, repo, layer, MAX_ENVELOPE_BYTES).catch(() => undefined);
    if (!bytes) {
      found.unavailable = true;
      continue;
    }
    const c = checkEnvelope(bytes, limits.keys, digest);
    if (c.kind === 'valid') valid.push(c.report);
    else if (c.kind === 'untrusted') untrusted = true;
    else if (c.kind === 'unreadable') unreadable = true;
  }
  if (valid.length > 0) {
    const newest = valid.reduce((a, b) => ((b.scannedAt ?? -Infinity) > (a.scannedAt ?? -Infinity) ? b : a));
    const j = judgeReport(newest, limits, now);
    return j.ok ? { ...verdict(true, 'report-passed'), expires: j.expires } : verdict(false, j.reason, j.detail);
  }
  if (found.unavailable) return verdict(false, 'reports-unavailable');
  if (unreadable) return verdict(false, 'report-unreadable');
  return verdict(false, untrusted ? 'report-untrusted' : 'report-missing');
}
