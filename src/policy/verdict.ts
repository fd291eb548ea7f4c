// The verdict of a pull policy on one manifest, and the sentences that explain each reason. Pure.

/** Why a manifest was served or refused; the names are the `reason` label of the metrics and the audit log. */
export type Reason =
  | 'signed'
  | 'signed-index'
  | 'allow-listed'
  | 'not-required'
  | 'artifact'
  | 'unsigned'
  | 'unknown-key'
  | 'wrong-digest'
  | 'signatures-unavailable'
  | 'report-passed'
  | 'report-missing'
  | 'report-untrusted'
  | 'report-unreadable'
  | 'report-too-old'
  | 'vulnerabilities-above-limit'
  | 'reports-unavailable';

export interface Verdict {
  allow: boolean;
  reason: Reason;
  /** A sentence for the client and the operator: what was found, what would pass. */
  detail: string;
  /** An allow that lapses (a report turning too old), in ms since the epoch. */
  expires?: number;
}

const EXPLAIN: Record<Reason, string> = {
  signed: 'signed by a trusted key',
  'signed-index': 'listed by a signed index',
  'allow-listed': 'digest is in allowDigests',
  'not-required': 'the policy requires no signature',
  artifact: 'not a runnable image (signature, attestation or other artifact)',
  unsigned: 'unsigned: no cosign signature (neither the sha256-<hex>.sig tag nor a referrer); sign it with a trusted key',
  'unknown-key': "signature by an unknown key: no signature verifies with the policy's keys",
  'wrong-digest': 'a signature by a trusted key names another manifest digest (copied from another image)',
  'signatures-unavailable': 'signatures could not be fetched (every upstream failed); try again',
  'report-passed': 'a trusted vulnerability report within the limits',
  'report-missing': 'report missing: no vulnerability report (cosign vuln attestation, neither the sha256-<hex>.att tag nor a referrer); scan it and attest the result with a trusted key',
  'report-untrusted': "report untrusted: vulnerability reports exist, none signed by the policy's vulnerabilities.keys for this digest; attest with a trusted key",
  'report-unreadable': 'report unreadable: a trusted vulnerability report whose scanner result is neither Trivy nor Grype JSON',
  'report-too-old': 'report too old: scan again and attest the report',
  'vulnerabilities-above-limit': "vulnerabilities above the policy's limits",
  'reports-unavailable': 'vulnerability reports could not be fetched (every upstream failed); try again',
};

export function verdict(allow: boolean, reason: Reason, detail = EXPLAIN[reason]): Verdict {
  return { allow, reason, detail };
}
