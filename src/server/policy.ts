import type { RepoRouter } from '../oci/addressing.js';
import { parseReference } from '../oci/reference.js';
import type { PolicyReader } from '../policy/reader.js';

/** A policy verdict on one image, as `regway policy check` and doctor show it. */
export interface PolicyReport {
  image: string;
  registry: string;
  repository: string;
  digest: string;
  /** Absent: no policy covers the repository (it is served). */
  policy?: string;
  mode?: 'enforce' | 'audit';
  allow: boolean;
  /** What the gateway does: serve, deny, or serve while an audit-mode policy counts a refusal. */
  decision: 'allow' | 'deny' | 'would-deny';
  reason?: string;
  detail?: string;
}

/**
 * Evaluates an image as clients name it (`registry.example.com/team/app:v1`, a hosted `local/app@sha256:…`)
 * with the gateway's routing and policies, fetching its manifest and signatures but no layer.
 */
export function policyChecker(readers: { pull: PolicyReader; hosted?: PolicyReader }, router: () => RepoRouter) {
  return async (image: string): Promise<PolicyReport> => {
    const [path, digest] = image.split('@') as [string, string | undefined];
    const slash = path.lastIndexOf('/');
    const colon = path.lastIndexOf(':');
    const name = colon > slash ? path.slice(0, colon) : path;
    const ref = parseReference(digest ?? (colon > slash ? path.slice(colon + 1) : 'latest'), { read: true });
    const routed = router().route(name);
    const reader = routed.hosted && readers.hosted ? readers.hosted : readers.pull;
    const c = await reader.check({ registry: routed.registry, name: routed.name }, ref);
    const base = { image, registry: routed.registry, repository: routed.name, digest: c.digest };
    if (!c.policy || !c.verdict) return { ...base, allow: true, decision: 'allow' };
    const decision = c.verdict.allow ? 'allow' : c.policy.mode === 'audit' ? 'would-deny' : 'deny';
    return { ...base, policy: c.policy.name, mode: c.policy.mode, allow: c.verdict.allow, decision, reason: c.verdict.reason, detail: c.verdict.detail };
  };
}
