// The declarative file behind `regway config`: which registries exist, their mirrors in priority order, credentials
// by reference, and which runtime files to manage. Pure: parsing and validation only, no file system access.
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';

/** Every file family `regway config` can manage. */
const TARGETS = ['docker-daemon', 'docker-config', 'containerd', 'registries-conf', 'containers-auth', 'kubernetes'] as const;
export type TargetName = (typeof TARGETS)[number];
/** What a node manages when `targets` is omitted: everything but the cluster object. */
export const DEFAULT_TARGETS: TargetName[] = ['docker-daemon', 'docker-config', 'containerd', 'registries-conf', 'containers-auth'];

const HOST_RE = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$|^\[[0-9a-f:]+\](?::\d{1,5})?$/;
const hostMsg = 'must be a registry host or host:port in lower case, without scheme or path (e.g. ghcr.io or registry.example.com:5000)';
const host = z.string().refine((h) => HOST_RE.test(h), { message: hostMsg });

const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-f:]+\/\d{1,3}$/i;

function noScheme(v: string, ctx: z.RefinementCtx): void {
  if (v.includes('://')) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" has a scheme; write the bare host[:port] (dockerd and registries.conf reject schemes here)` });
}

/**
 * A mirror is the root of a registry API. A path is refused on purpose: dockerd rejects it, containerd would append
 * /v2 after it while registries.conf would treat it as a repository namespace, so one URL cannot mean the same thing
 * to every runtime.
 */
const mirrorUrl = z.string().superRefine((u, ctx) => {
  let p: URL;
  try {
    p = new URL(u);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a URL like https://mirror.example.com or http://10.0.0.5:5000 (got "${u}")` });
    return;
  }
  if (p.protocol !== 'http:' && p.protocol !== 'https:') ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must start with http:// or https:// (got "${u}")` });
  else if (p.username || p.password) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not contain user:password@; give credentials under registries[].credentials' });
  else if (p.search || p.hash) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not have a query or fragment' });
  else if (p.pathname !== '/' && p.pathname !== '')
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be the root of the mirror, with no path (got "${p.pathname}"); dockerd refuses paths and containerd and podman read them differently` });
});

/** A value that must come from outside the file. `prompt` asks on the terminal at plan/apply time. */
const ref = z.union(
  [
    z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }).strict(),
    z.object({ file: z.string().min(1, 'must be a path') }).strict(),
    z.object({ prompt: z.literal(true) }).strict(),
  ],
  { errorMap: () => ({ message: 'must be {env: VAR}, {file: PATH} or {prompt: true}' }) },
);
export type SecretRef = z.infer<typeof ref>;

const credentials = z
  .object({
    username: z.union([z.string().min(1), ref], { errorMap: () => ({ message: 'must be a user name or {env: VAR}, {file: PATH}, {prompt: true}' }) }),
    // Passwords are never accepted inline: the declarative file is meant to be committed and copied to every node.
    password: z
      .any()
      .superRefine((v, ctx) => {
        if (typeof v === 'string') {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not be written inline; use {env: VAR}, {file: PATH} or {prompt: true}' });
          return;
        }
        const r = ref.safeParse(v);
        if (!r.success) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be {env: VAR}, {file: PATH} or {prompt: true}' });
      })
      .transform((v) => v as SecretRef),
  })
  .strict();

const mirror = z
  .object({
    url: mirrorUrl,
    /** Plain HTTP or TLS without verification. */
    insecure: z.boolean().default(false),
    /** CA bundle for this mirror (absolute path on the node). */
    ca: z.string().startsWith('/', 'must be an absolute path').optional(),
    /** false: the mirror may only serve content by digest; tags are always resolved at the registry itself. */
    resolveTags: z.boolean().default(true),
    /**
     * The mirror is a gateway for many registries under one address (regway): podman, CRI-O and skopeo then reach
     * this registry at <mirror host>/<registry host> (the gateway reads the registry from the first path segment);
     * containerd sends ?ns= and dockerd mirrors Docker Hub only, so their files are the same as for a plain mirror.
     */
    gateway: z.boolean().default(false),
  })
  .strict();
export type MirrorSpec = z.infer<typeof mirror>;

const registry = z
  .object({
    host,
    /** Where the registry itself is served when it differs from https://<host> (docker.io: registry-1.docker.io). */
    server: z.string().url('must be a URL like https://registry.example.com').optional(),
    mirrors: z.array(mirror).default([]),
    insecure: z.boolean().default(false),
    blocked: z.boolean().default(false),
    ca: z.string().startsWith('/', 'must be an absolute path').optional(),
    credentials: credentials.optional(),
  })
  .strict();
export type RegistrySpec = z.infer<typeof registry>;

const absPath = z.string().startsWith('/', 'must be an absolute path (it is taken under --root)');

const specSchema = z
  .object({
    version: z.literal(1, { errorMap: () => ({ message: 'must be 1' }) }).default(1),
    targets: z.array(z.enum(TARGETS)).default(DEFAULT_TARGETS),
    registries: z.array(registry).default([]),
    /** host[:port] or CIDR; CIDRs only reach dockerd. */
    insecureRegistries: z
      .array(
        z
          .string()
          .superRefine(noScheme)
          .refine((v) => HOST_RE.test(v) || CIDR_RE.test(v), 'must be host[:port] or a CIDR such as 10.0.0.0/8'),
      )
      .default([]),
    blockedRegistries: z.array(host).default([]),
    unqualifiedSearchRegistries: z.array(host).optional(),
    docker: z
      .object({
        maxConcurrentDownloads: z.number().int().min(1, 'must be at least 1').optional(),
        maxDownloadAttempts: z.number().int().min(1, 'must be at least 1').optional(),
        daemonJson: absPath.default('/etc/docker/daemon.json'),
        configJson: absPath.default('/root/.docker/config.json'),
        pidFile: absPath.default('/var/run/docker.pid'),
      })
      .strict()
      .default({}),
    containerd: z
      .object({
        certsDir: absPath.default('/etc/containerd/certs.d'),
        configToml: absPath.default('/etc/containerd/config.toml'),
      })
      .strict()
      .default({}),
    containers: z
      .object({
        registriesConf: absPath.default('/etc/containers/registries.conf'),
        /** Write a drop-in under registries.conf.d/ instead of editing registries.conf. */
        dropIn: z.boolean().default(false),
        dropInDir: absPath.default('/etc/containers/registries.conf.d'),
        dropInName: z
          .string()
          .regex(/^[A-Za-z0-9._-]+\.conf$/, 'must be a file name ending in .conf (other names are ignored by podman)')
          .default('50-regway.conf'),
        authFile: absPath.default('/root/.config/containers/auth.json'),
      })
      .strict()
      .default({}),
    kubernetes: z
      .object({
        secretName: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS-1123 name such as regcred')
          .default('regcred'),
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label')
          .optional(),
        serviceAccounts: z.array(z.string().min(1)).default([]),
        output: absPath.default('/etc/regway/kubernetes/pull-secret.yaml'),
        kubeconfig: z.string().optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.registries.forEach((r, i) => {
      const prev = seen.get(r.host);
      if (prev !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['registries', i, 'host'], message: `${r.host} is already listed at registries.${prev}; merge the two entries` });
      seen.set(r.host, i);
      if (r.blocked && r.mirrors.length) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['registries', i, 'mirrors'], message: 'a blocked registry cannot have mirrors; remove one of the two' });
    });
  });

export type Spec = z.infer<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;

/** A problem in the declarative file; `issues` name the field (`registries.0.mirrors.1.url: ...`). */
export class SpecError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join('\n')}` : message);
    this.name = 'SpecError';
  }
}

/** Validates an already parsed object. */
export function validateSpec(input: unknown, source = 'the declarative file'): Spec {
  const r = specSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new SpecError(`${source} is invalid; fix these fields and run the command again:`, issues);
}

/** Parses YAML text and validates it. */
export function parseSpec(text: string, source = 'the declarative file'): Spec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SpecError(`${source} is not valid YAML: ${(e as Error).message}`);
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new SpecError(`${source} must hold a YAML mapping at the top level (see \`regway config init\` for an example)`);
  }
  return validateSpec(doc, source);
}

/** The registries whose traffic goes to Docker Hub under any of its names. */
export function isDockerHub(host: string): boolean {
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io';
}

/** Hosts from the spec that should be marked insecure: registries with insecure: true plus insecureRegistries. */
export function insecureHosts(spec: Spec): string[] {
  const out = spec.registries.filter((r) => r.insecure).map((r) => r.host);
  for (const h of spec.insecureRegistries) if (!out.includes(h)) out.push(h);
  return out;
}

/** Blocked hosts: registries with blocked: true plus blockedRegistries, de-duplicated in file order. */
export function blockedHosts(spec: Spec): string[] {
  const out = spec.registries.filter((r) => r.blocked).map((r) => r.host);
  for (const h of spec.blockedRegistries) if (!out.includes(h)) out.push(h);
  return out;
}

export function isCidr(v: string): boolean {
  return CIDR_RE.test(v);
}
