import { verify, type KeyObject } from 'node:crypto';
import type { Severity } from '../config/policy-schema.js';

/**
 * Vulnerability reports as cosign attaches them (`cosign attest --type vuln`): an in-toto statement
 * whose predicate is cosign's vuln predicate, in a DSSE envelope signed by the scanner's key (the
 * signature over DSSE's pre-authentication encoding, PAE). The envelope is a layer of the manifest
 * tagged `sha256-<hex>.att`, or of an OCI 1.1 referrer of artifactType DSSE_ENVELOPE.
 */
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';
export const IN_TOTO_PAYLOAD = 'application/vnd.in-toto+json';
export const VULN_PREDICATE = 'https://cosign.sigstore.dev/attestation/vuln/v1';
/** Cosign's layer annotation naming the predicate: other attestations (SLSA, SBOM) are skipped unread. */
export const PREDICATE_ANNOTATION = 'predicateType';
/** A scanner's full result can be large (Trivy JSON of a big image: a few MiB); beyond this it is refused unread. */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;
/** Reports looked at per manifest. */
export const MAX_REPORTS = 8;

/** The tag cosign stores an image's attestations under. */
export function attestationTag(digest: string): string {
  return digest.replace(':', '-') + '.att';
}

/** DSSE's pre-authentication encoding: what is signed, so the payload type cannot be swapped. */
export function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

export type Counted = Exclude<Severity, 'none'> | 'unknown';
export interface VulnReport {
  /** metadata.scanFinishedOn (ms), inside the signed statement: the report's age is the scan's. */
  scannedAt?: number;
  counts: Record<Counted, number>;
}

export type EnvelopeCheck =
  | { kind: 'valid'; report: VulnReport }
  | { kind: 'untrusted' } // no signature verifies with a trusted key, or a report of another image
  | { kind: 'other-predicate' }
  | { kind: 'unreadable' }; // trusted, for this image, but the scanner result is in no format regway reads

/** One DSSE envelope against the trusted keys and the image digest. The signature is checked before any claim is read. */
export function checkEnvelope(bytes: Buffer, keys: readonly KeyObject[], digest: string): EnvelopeCheck {
  const env = parseJson(bytes) as { payloadType?: unknown; payload?: unknown; signatures?: unknown } | undefined;
  if (!env || env.payloadType !== IN_TOTO_PAYLOAD || typeof env.payload !== 'string' || !Array.isArray(env.signatures)) return { kind: 'untrusted' };
  const body = Buffer.from(env.payload, 'base64');
  const signed = pae(IN_TOTO_PAYLOAD, body);
  const sigs = env.signatures.slice(0, 8).map((s: { sig?: unknown }) => (typeof s?.sig === 'string' ? Buffer.from(s.sig, 'base64') : undefined));
  if (!sigs.some((s) => s && keys.some((k) => verifies(signed, s, k)))) return { kind: 'untrusted' };
  const st = parseJson(body) as { predicateType?: unknown; subject?: unknown; predicate?: unknown } | undefined;
  if (!st) return { kind: 'unreadable' };
  if (st.predicateType !== VULN_PREDICATE) return { kind: 'other-predicate' };
  if (!namesSubject(st.subject, digest)) return { kind: 'untrusted' };
  const report = readPredicate(st.predicate);
  return report ? { kind: 'valid', report } : { kind: 'unreadable' };
}

function verifies(data: Buffer, sig: Buffer, key: KeyObject): boolean {
  try {
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, sig);
  } catch {
    return false;
  }
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
}

function namesSubject(subject: unknown, digest: string): boolean {
  const hex = digest.slice('sha256:'.length);
  return Array.isArray(subject) && subject.some((s: { digest?: { sha256?: unknown } }) => s?.digest?.sha256 === hex);
}

const SEVERITY_NAMES: Record<string, Counted> = { critical: 'critical', high: 'high', medium: 'medium', moderate: 'medium', low: 'low', negligible: 'low' };

/**
 * The predicate's scanner result, as Trivy (`Results[].Vulnerabilities[].Severity`) or Grype
 * (`matches[].vulnerability.severity`) write it with `-f json`. Undefined when it is neither.
 */
export function readPredicate(predicate: unknown): VulnReport | undefined {
  const p = predicate as { scanner?: { result?: unknown }; metadata?: { scanFinishedOn?: unknown } } | undefined;
  const result = p?.scanner?.result as { Results?: unknown; matches?: unknown } | undefined;
  let severities: unknown[];
  if (Array.isArray(result?.Results))
    severities = result.Results.flatMap((r: { Vulnerabilities?: unknown }) => (Array.isArray(r?.Vulnerabilities) ? r.Vulnerabilities.map((v: { Severity?: unknown }) => v?.Severity) : []));
  else if (Array.isArray(result?.matches)) severities = result.matches.map((m: { vulnerability?: { severity?: unknown } }) => m?.vulnerability?.severity);
  else return undefined;
  const counts: Record<Counted, number> = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const s of severities) counts[SEVERITY_NAMES[String(s).toLowerCase()] ?? 'unknown']++;
  const at = typeof p?.metadata?.scanFinishedOn === 'string' ? Date.parse(p.metadata.scanFinishedOn) : NaN;
  return { scannedAt: Number.isNaN(at) ? undefined : at, counts };
}

export interface VulnLimits {
  maxSeverity: Severity;
  maxCritical: number;
  maxHigh?: number;
  maxAge: number;
}

const RANK: Record<Severity, number> = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** How many of each severity a report may list: none above maxSeverity, then maxCritical / maxHigh. Unknown ones only count against `none`. */
export function limitsOf(l: VulnLimits): Record<Counted, number> {
  const cap = (s: Exclude<Counted, 'unknown'>, n = Infinity) => (RANK[s] > RANK[l.maxSeverity] ? 0 : n);
  return { critical: cap('critical', l.maxCritical), high: cap('high', l.maxHigh), medium: cap('medium'), low: cap('low'), unknown: l.maxSeverity === 'none' ? 0 : Infinity };
}

export type ReportJudgement = { ok: true; expires: number } | { ok: false; reason: 'report-too-old' | 'vulnerabilities-above-limit'; detail: string };

/** A trusted report against the limits at time `now`. An accepted report stays accepted until it is maxAge old. */
export function judgeReport(r: VulnReport, l: VulnLimits, now: number): ReportJudgement {
  if (r.scannedAt === undefined || now - r.scannedAt > l.maxAge) {
    const when = r.scannedAt === undefined ? 'has no metadata.scanFinishedOn' : `was scanned ${new Date(r.scannedAt).toISOString()}, ${days(now - r.scannedAt)} ago`;
    return { ok: false, reason: 'report-too-old', detail: `the newest trusted vulnerability report ${when}; maxAge is ${days(l.maxAge)}: scan again and attest the report` };
  }
  const limits = limitsOf(l);
  const over = (Object.keys(limits) as Counted[]).filter((s) => r.counts[s] > limits[s]);
  if (over.length > 0) {
    const list = over.map((s) => `${r.counts[s]} ${s} (limit ${limits[s]})`).join(', ');
    return { ok: false, reason: 'vulnerabilities-above-limit', detail: `${list} above the limit: fix them and scan again, or add the digest to allowDigests` };
  }
  return { ok: true, expires: r.scannedAt + l.maxAge };
}

function days(ms: number): string {
  const d = ms / 86_400_000;
  return d >= 1 ? `${Math.round(d * 10) / 10}d` : `${Math.round((ms / 3_600_000) * 10) / 10}h`;
}
