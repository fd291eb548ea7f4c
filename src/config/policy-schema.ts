import { z } from 'zod';
import { duration } from './primitives.js';

// Pull policy (docs/policy.md): which manifests the gateway serves, by signature. Hot-reloadable.

const repoPattern = z
  .string()
  .min(1)
  .regex(/^[a-z0-9._*/:-]+$/, 'a repository pattern: registry/name with "*" (one segment) and "**" (any), e.g. docker.io/library/* or ghcr.io/acme/**');
const sha256 = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'a digest, sha256:<64 hex>');

/** A cosign public key: PEM text inline, or a file holding it. */
const publicKey = z.union([
  z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'an inline key is PEM text (-----BEGIN PUBLIC KEY-----); give a file as { file: path }' }),
  z.object({ file: z.string().min(1) }).strict(),
]);

/** Severities, lowest first: maxSeverity names the highest one a served image may have. */
export const SEVERITIES = ['none', 'low', 'medium', 'high', 'critical'] as const;

/** A signed vulnerability report (cosign's vuln attestation, DSSE-signed) must be attached and pass. */
const vulnerabilitiesSchema = z
  .object({
    /** Public keys whose DSSE signatures on reports count (the scanner's / CI's key). */
    keys: z.array(publicKey).min(1, 'a vulnerability report must be signed: give at least one key'),
    /** No vulnerability above this severity (none: no vulnerability at all). */
    maxSeverity: z.enum(SEVERITIES).default('critical'),
    /** Critical vulnerabilities allowed. */
    maxCritical: z.number().int().nonnegative().default(0),
    /** High vulnerabilities allowed (absent: any number, up to maxSeverity). */
    maxHigh: z.number().int().nonnegative().optional(),
    /** The newest trusted report's scan (metadata.scanFinishedOn) must be at most this old. */
    maxAge: duration.default('7d'),
  })
  .strict();

export const policySchema = z
  .object({
    /** Names the policy in denials, metrics and the audit log. */
    name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, _ . - (up to 64)'),
    /** Repositories it covers, as access rules name them: registry/name (hosted: the name). The first policy that matches a repository is its policy. */
    repositories: z.array(repoPattern).min(1),
    /** enforce: refuse with 403 DENIED; audit: serve, but log and count what would have been refused. */
    mode: z.enum(['enforce', 'audit']).default('enforce'),
    /** signed: a cosign signature by one of `keys` must be attached; none: only allowDigests / audit matter. */
    require: z.enum(['signed', 'none']).default('signed'),
    /** Cosign public keys (ECDSA P-256) whose signatures count. */
    keys: z.array(publicKey).default([]),
    /** Manifests served whatever else the policy says (a break-glass list). */
    allowDigests: z.array(sha256).default([]),
    /** Also require a signed vulnerability report within these limits (docs/policy.md). */
    vulnerabilities: vulnerabilitiesSchema.optional(),
  })
  .strict()
  .refine((p) => p.require !== 'signed' || p.keys.length > 0, { message: 'require: signed needs at least one key under keys', path: ['keys'] });

export const policiesSchema = z
  .array(policySchema)
  .default([])
  .superRefine((ps, ctx) => {
    const seen = new Set<string>();
    ps.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', message: `policy name ${p.name} is used twice`, path: [i, 'name'] });
      seen.add(p.name);
    });
  });

export type PolicyConfig = z.infer<typeof policySchema>;
export type VulnerabilityConfig = z.infer<typeof vulnerabilitiesSchema>;
export type Severity = (typeof SEVERITIES)[number];
