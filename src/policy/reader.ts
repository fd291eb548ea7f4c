import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import { isIndex, parseManifest } from '../oci/manifest.js';
import type { RepoKey } from '../oci/repo.js';
import type { BlobResult, ManifestResult, PolicyDecision, Reference, ReferrersResult, RepositoryReader, TagPage } from '../oci/registry.js';
import { evaluate, isArtifact, verdict, type Verdict } from './evaluate.js';
import { policyFor, type Policy, type PolicySet } from './rules.js';

/** Verdicts remembered (per repository and digest); a refusal only this long, so a signature attached later counts soon. */
const MAX_VERDICTS = 100_000;
const REFUSAL_TTL_MS = 60_000;

interface Remembered {
  v: Verdict;
  until: number;
}

/**
 * A RepositoryReader that serves a manifest only when the repository's pull policy allows it
 * (docs/policy.md). Everything else passes through. Verification happens once per repository,
 * digest and policy generation; a reload starts afresh.
 */
export class PolicyReader implements RepositoryReader {
  private verdicts = new Map<string, Remembered>();
  private flights = new Map<string, Promise<Verdict>>();
  /** Platform images listed by an index whose signature verified (this generation): their signature check passes. */
  private signedByIndex = new Set<string>();
  private generation = -1;

  constructor(
    private readonly inner: RepositoryReader,
    private readonly policies: () => PolicySet,
    private readonly now: () => number = Date.now,
  ) {}

  async manifest(repo: RepoKey, ref: Reference): Promise<ManifestResult> {
    const r = await this.inner.manifest(repo, ref);
    const set = this.policies();
    const policy = policyFor(set, repo);
    if (!policy) return r;
    const v = await this.judge(set, policy, repo, r);
    const decision: PolicyDecision = { policy: policy.name, decision: v.allow ? 'allow' : policy.mode === 'audit' ? 'would-deny' : 'deny', reason: v.reason };
    if (decision.decision !== 'deny') return { ...r, policy: decision };
    throw new RegistryError('DENIED', `pull policy ${policy.name} refuses ${r.digest}: ${v.detail}`, { policy: policy.name, reason: v.reason, digest: r.digest });
  }

  /** The verdict alone (regway policy check, doctor): the same evaluation, the same cache. */
  async check(repo: RepoKey, ref: Reference): Promise<{ digest: string; policy?: Policy; verdict?: Verdict }> {
    const r = await this.inner.manifest(repo, ref);
    const set = this.policies();
    const policy = policyFor(set, repo);
    return { digest: r.digest, policy, verdict: policy ? await this.judge(set, policy, repo, r) : undefined };
  }

  private async judge(set: PolicySet, policy: Policy, repo: RepoKey, r: ManifestResult): Promise<Verdict> {
    if (set.generation !== this.generation) {
      this.verdicts.clear();
      this.signedByIndex.clear();
      this.generation = set.generation;
    }
    const key = `${repo.registry}/${repo.name}@${r.digest}`;
    const known = this.verdicts.get(key);
    if (known && known.until > this.now()) return known.v;
    let flight = this.flights.get(key);
    if (!flight) {
      flight = this.decide(policy, repo, r, key).finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    const v = await flight;
    if (set.generation === this.generation) this.remember(key, v);
    return v;
  }

  private async decide(policy: Policy, repo: RepoKey, r: ManifestResult, key: string): Promise<Verdict> {
    const info = parseManifest(r.bytes, r.mediaType);
    if (isArtifact(info)) return verdict(true, 'artifact');
    const index = isIndex(info.mediaType);
    const v = await evaluate(this.inner, policy, repo, r.digest, { index, signedByIndex: this.signedByIndex.has(key), now: this.now() });
    // The platform images of a signed index pass its signature check: cosign signs the index a tag
    // points at. Their vulnerability reports, if the policy wants them, are their own.
    if (index && v.reason === 'signed') {
      for (const child of info.manifests) {
        if (this.signedByIndex.size >= MAX_VERDICTS) this.signedByIndex.delete(this.signedByIndex.values().next().value!);
        const childKey = `${repo.registry}/${repo.name}@${child.digest}`;
        this.signedByIndex.add(childKey);
        if (this.verdicts.get(childKey)?.v.allow === false) this.verdicts.delete(childKey); // refused alone before the index was seen
      }
    }
    return v;
  }

  private remember(key: string, v: Verdict): void {
    if (v.reason === 'signatures-unavailable' || v.reason === 'reports-unavailable') return;
    if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.delete(this.verdicts.keys().next().value!);
    // An allow stands for the policy's generation, or until its report is too old; a refusal for a minute.
    this.verdicts.set(key, { v, until: v.allow ? (v.expires ?? Infinity) : this.now() + REFUSAL_TTL_MS });
  }

  blob(repo: RepoKey, digest: Digest, opts: { head: boolean; range?: string }): Promise<BlobResult> {
    return this.inner.blob(repo, digest, opts);
  }
  tags(repo: RepoKey, n?: string, last?: string): Promise<TagPage> {
    return this.inner.tags(repo, n, last);
  }
  referrers(repo: RepoKey, subject: Digest, artifactType?: string): Promise<ReferrersResult> {
    return this.inner.referrers(repo, subject, artifactType);
  }
  repositories(): Promise<RepoKey[]> {
    return this.inner.repositories();
  }
}
