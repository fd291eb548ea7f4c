// What a regway gateway's pull policy decided about a manifest, as the gateway tells clients: a
// refusal is `403 DENIED` with detail {policy, reason, digest} (docs/policy.md); a served manifest
// carries `x-regway-policy: policy=<name>; decision=<allow|would-deny>; reason=<reason>`. Turned
// into a sentence and what would make the image pass, for doctor and trace. Pure.
import type { RegistryErrorBody } from './registry-error.js';

export interface PolicyVerdict {
  policy: string;
  decision: 'allow' | 'deny' | 'would-deny';
  reason: string;
  /** The gateway's sentence (a refusal's message: what it found, e.g. "3 critical (limit 0) above the limit"). */
  message?: string;
  digest?: string;
}

/** The policy refusal in an error body, if that is what it is. */
export function policyRefusal(errors: readonly RegistryErrorBody[]): PolicyVerdict | undefined {
  const e = errors.find((x) => x.code === 'DENIED');
  const d = e?.detail as { policy?: unknown; reason?: unknown; digest?: unknown } | undefined;
  if (!e || typeof d?.policy !== 'string' || typeof d.reason !== 'string') return undefined;
  return { policy: d.policy, decision: 'deny', reason: d.reason, message: e.message, ...(typeof d.digest === 'string' ? { digest: d.digest } : {}) };
}

/** The verdict a served manifest's x-regway-policy header states. */
export function policyHeader(h: string | string[] | undefined): PolicyVerdict | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const kv = Object.fromEntries(v.split(';').map((p) => p.trim().split('=') as [string, string]));
  const decision = kv.decision;
  if (!kv.policy || !kv.reason || (decision !== 'allow' && decision !== 'would-deny' && decision !== 'deny')) return undefined;
  return { policy: kv.policy, decision, reason: kv.reason };
}

/** What makes an image with this refusal reason pass (docs/policy.md). */
const TO_PASS: Record<string, string> = {
  unsigned: 'sign the image with a key the policy trusts: cosign sign --key cosign.key --recursive <image>@<digest>',
  'unknown-key': "sign it with a key under the policy's keys, or add the signer's public key to them (and regway reload)",
  'wrong-digest': 'the signature is of another image: sign this digest (cosign sign --key cosign.key <image>@<digest>)',
  'signatures-unavailable': 'the gateway could not fetch the signatures from its upstreams: check them and retry',
  'report-missing':
    'scan the image and attest the result with a trusted key: trivy image -f json -o scan.json <image>@<digest>; cosign attest --key scanner.key --type vuln --predicate scan.json <image>@<digest>',
  'report-untrusted': "attest the report with a key under the policy's vulnerabilities.keys (or add the scanner's public key), for this exact digest",
  'report-unreadable': 'attest a Trivy (-f json) or Grype (-o json) result with cosign attest --type vuln',
  'report-too-old': 'scan again and attest the fresh report (cosign attest --type vuln), or raise vulnerabilities.maxAge',
  'vulnerabilities-above-limit': 'fix the vulnerabilities (rebuild on patched packages) and attest a new scan, raise maxCritical / maxHigh / maxSeverity, or add the digest to allowDigests',
  'reports-unavailable': 'the gateway could not fetch the vulnerability reports from its upstreams: check them and retry',
};

export function toPass(reason: string): string | undefined {
  return TO_PASS[reason];
}

/** "pull policy team: deny (report-missing): <message>; to pass: <fix>". */
export function describePolicy(v: PolicyVerdict, withFix = true): string {
  const said = v.message ? `: ${v.message}` : '';
  const fix = withFix && v.decision !== 'allow' && toPass(v.reason) ? `; to pass: ${toPass(v.reason)}` : '';
  return `pull policy ${v.policy}: ${v.decision} (${v.reason})${said}${fix}`;
}
