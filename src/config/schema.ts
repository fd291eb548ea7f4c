import { z } from 'zod';
import { duration, size, secret } from './primitives.js';
import { trustedProxiesSchema, auditSchema, alertsSchema, sloSchema } from './observability.js';
import { authSchema, hostedSchema, limitsSchema, tlsSchema } from './hosted-schema.js';
import { redirectSchema } from './redirect-schema.js';
import { policiesSchema } from './policy-schema.js';


export type { SecretRef } from './primitives.js';

const upstreamUrl = z.string().refine((u) => {
  try { const p = new URL(u); return (p.protocol === 'http:' || p.protocol === 'https:') && !p.search && !p.hash && !p.username; } catch { return false; }
}, { message: 'must be an http:// or https:// URL without query, fragment or user info (e.g. https://mirror.example.com/dockerhub)' });

export const upstreamSchema = z.object({
  url: upstreamUrl,
  role: z.enum(['mirror', 'origin']).default('origin'),
  /** false: a mirror that may only serve content by digest, never resolve tags. */
  resolve: z.boolean().default(true),
  /** Credentials: a username/password pair (values by reference), or a Docker credential helper. */
  auth: z.union([
    z.object({ username: secret, password: secret }).strict(),
    z.object({ helper: z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'a helper name, e.g. ecr-login for docker-credential-ecr-login') }).strict(),
  ]).optional(),
  /** Offer HTTP/2 (ALPN) to this upstream; used when it agrees. */
  http2: z.boolean().default(false),
  /**
   * Token realms (origins, e.g. https://auth.example.com) on other hosts that may receive this
   * upstream's credentials. A realm on the upstream's own host always may; any other gets none.
   */
  tokenRealms: z.array(z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL')).default([]),
  tls: z.object({
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    insecure: z.boolean().default(false),
  }).strict().default({}),
  timeouts: z.object({
    connect: duration.default('5s'),
    /** Time to wait for response headers. */
    headers: duration.default('30s'),
    /** Longest silence while reading a body. */
    idle: duration.default('60s'),
  }).strict().default({}),
}).strict();
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

const registrySchema = z.object({
  upstreams: z.array(upstreamSchema).min(1, 'a registry needs at least one upstream'),
  /** How long a tag->digest mapping is served without asking upstream. */
  tagTtl: duration.optional(),
  /** How long a stale tag may be served when every upstream fails. */
  maxStale: duration.optional(),
  /** How long the origin's 404 for a tag is remembered (a storm of requests costs one call). */
  negativeTtl: duration.optional(),
  /** Cached blobs answered with a 307 to the object store or a CDN (needs storage.driver s3); see docs/redirects.md. */
  redirect: redirectSchema.optional(),
}).strict();

/** S3-compatible object storage (AWS S3, Ceph RGW, MinIO, R2); see docs/scale-out.md. */
const s3Schema = z.object({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name is 3-63 lowercase letters, digits, dots and hyphens'),
  /** Custom endpoint (Ceph RGW, MinIO, R2); absent: AWS S3 for the region. */
  endpoint: z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL').optional(),
  region: z.string().min(1).default('us-east-1'),
  /** Bucket in the URL path; default: on with a custom endpoint, off for AWS. */
  forcePathStyle: z.boolean().optional(),
  /** Key prefix inside the bucket, e.g. regway/prod. */
  prefix: z.string().regex(/^[A-Za-z0-9._/-]*$/, 'letters, digits, . _ - and /').default(''),
  /** Both or neither; neither: the AWS default chain (env, ~/.aws, web identity, instance role). */
  accessKeyId: secret.optional(),
  secretAccessKey: secret.optional(),
  /** Multipart part size (>= 5MiB); memory per blob being written is about 3 parts. */
  partSize: size.default('8MiB').refine((n) => n >= 5 * 1024 * 1024, 'must be at least 5MiB (the S3 minimum part size)'),
  /** Create the bucket at start when missing (labs; production pre-creates it). */
  createBucket: z.boolean().default(false),
}).strict().refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
  message: 'give both accessKeyId and secretAccessKey, or neither (then the AWS default credential chain is used)',
});

/** Node mode and the scheduler of peer-to-peer distribution (docs/p2p.md). */
const p2pSchema = z.object({
  /** Shared secret of the nodes and the scheduler (at least 16 characters): every peer and scheduler request is signed with it. */
  peerToken: secret,
  /** Node mode: the central gateway's URL (the scheduler); absent: this instance is the scheduler. */
  scheduler: z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL').optional(),
  /** Node mode: the URL other nodes reach this one at (its peer endpoint). */
  advertiseUrl: z.string().url().optional(),
  /** Topology label (e.g. the node's topology.kubernetes.io/zone): parents in the same zone are preferred. */
  zone: z.string().min(1).max(100).optional(),
  /** How many children this node streams to at once (d in a d-ary tree); 1 is a chain. */
  maxChildren: z.number().int().min(1).max(64).default(2),
  /** A parent that sends nothing for this long is given up; the child resumes from another with a Range. */
  stallTimeout: duration.default('5s'),
  /** Scheduler: how long a parent that sent bytes which failed verification is handed to no one. */
  quarantine: duration.default('5m'),
  /** Where other nodes may be (CIDRs, names, `*.suffix`); a parent outside is not contacted. Default: around advertiseUrl. */
  peerNetworks: z.array(z.string().min(1)).optional(),
}).strict().refine((p) => !p.scheduler || p.advertiseUrl, { message: 'node mode (p2p.scheduler) needs p2p.advertiseUrl: the URL other nodes reach this one at', path: ['advertiseUrl'] });

const registryName = z.string().regex(/^[a-z0-9.-]+(?::\d{1,5})?$/i, 'a registry name is a host or host:port, e.g. ghcr.io or registry.example.com:5000');

export const configSchema = z.object({
  listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:5000 or [::1]:5000').default('127.0.0.1:5000'),
  /** Public base URL, used only in logs and docs; Location headers stay relative. */
  storage: z.object({
    /** memory: for tests and throw-away gateways, nothing survives a restart. */
    driver: z.enum(['filesystem', 's3', 'memory']).default('filesystem'),
    /** Filesystem driver's root; with s3 and memory, only this instance's own files (audit log, SLO state, token key). */
    path: z.string().min(1).default('./data'),
    /** 0 = unlimited. Least-recently-used blobs are evicted above it. */
    maxSize: size.default(0),
    /**
     * The cache index (SQLite: blob sizes and last use, repositories, tags, links), derived from the
     * store and rebuilt from it when missing. Default: <path>/index/cache.db. Local disk only.
     */
    index: z.string().min(1).optional(),
    s3: s3Schema.optional(),
  }).strict().refine((s) => s.driver !== 's3' || s.s3 !== undefined, {
    message: 'storage.driver is s3 but storage.s3 is missing: give at least storage.s3.bucket', path: ['s3'],
  }).default({}),
  cache: z.object({
    tagTtl: duration.default('5m'),
    maxStale: duration.default('30d'),
    negativeTtl: duration.default('30s'),
    /** Bytes of manifests kept in memory for fast warm hits. */
    memoryManifests: size.default('64MiB'),
  }).strict().default({}),
  /** Upstream health: passive circuit breaking and active `/v2/` probes. */
  health: z.object({
    failureThreshold: z.number().int().positive().default(3),
    openFor: duration.default('15s'),
    /** Active probe interval; 0 disables active probes. */
    probeInterval: duration.default('10s'),
  }).strict().default({}),
  /**
   * Where upstream credentials are looked up when an upstream has no `auth`: Docker config.json and
   * containers auth.json files (including their credsStore/credHelpers), by the upstream's host.
   */
  credentials: z.object({
    dockerConfig: z.string().optional(),
    authFiles: z.array(z.string()).default([]),
  }).strict().default({}),
  /** Re-read the config file when it changes (SIGHUP always does). */
  watchConfig: z.boolean().default(false),
  /** Registry used for requests with neither `ns` nor a host as first path segment (dockerd's registry-mirrors). */
  defaultRegistry: z.string().default('docker.io'),
  registries: z.record(registryName, registrySchema).default({}),
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs); from anyone else the socket address counts. */
  trustedProxies: trustedProxiesSchema,
  /** Audit log (ECS JSON lines), its rotation and forwarding. */
  audit: auditSchema,
  /** Anomaly rules and their webhooks. */
  alerts: alertsSchema,
  /** Pull success and latency objectives. */
  slo: sloSchema,
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).strict().default({}),
  /** Hosted (pushable) repositories, client auth, TLS, limits: see hosted-schema.ts. */
  hosted: hostedSchema.default({}),
  /** Absent: no client auth (every client may do everything; fine on loopback only). */
  auth: authSchema.optional(),
  tls: tlsSchema.optional(),
  limits: limitsSchema.default({}),
  /** Pull policy: manifests served only when signed by given keys (docs/policy.md). */
  policies: policiesSchema,
  /** Several instances as one cache: Redis coordination (see docs/scale-out.md). Absent: one instance. */
  cluster: z.object({
    /** redis://host:port/db; when Redis is unreachable each instance keeps serving alone. */
    redis: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
    /** Redis password (requirepass or an ACL user's): by reference, e.g. { env: REGWAY_REDIS_PASSWORD }. */
    redisPassword: secret.optional(),
    /** Redis ACL user name, with redisPassword. */
    redisUser: z.string().min(1).optional(),
    /** URL other instances use to reach this one (its own listen address as seen by peers). */
    advertiseUrl: z.string().url(),
    /** Shared secret peers sign their requests to the internal peer endpoint with (at least 16 characters). */
    peerToken: secret,
    /**
     * Where other instances may be: CIDRs (10.244.0.0/16), host names, or `*.suffix` globs. A fetch
     * lease in Redis naming any other address is not contacted. Default: around advertiseUrl (its
     * /16 for an IPv4 address, /64 for IPv6, its sibling names for a host name).
     */
    peerNetworks: z.array(z.string().min(1)).optional(),
    /**
     * Key namespace in Redis; default: the shared storage (S3 bucket and prefix, or the folder).
     * Two fleets on one Redis must differ here, and do by default when their storage differs.
     */
    namespace: z.string().min(1).max(200).optional(),
    /** A fetch owner's lease: renewed while it downloads; others take over when it lapses. */
    leaseTtl: duration.default('10s'),
    /** How often rate-limit and alert counters are shared: a fleet-wide burst overshoots by at most this long's worth per instance. */
    syncInterval: duration.default('100ms'),
    /** Name of this instance in logs and metrics (default: host:pid). */
    instanceId: z.string().optional(),
  }).strict().optional(),
  /**
   * Peer-to-peer distribution between node-local instances (docs/p2p.md). With `scheduler`: node
   * mode (a miss asks the scheduler for a parent and streams from it). Without: this instance is
   * the scheduler (the central gateway nodes pull through).
   */
  p2p: p2pSchema.optional(),
}).strict().superRefine((c, ctx) => {
  // A redirect hands out the object's own URL: only an object store has one.
  for (const [name, reg] of Object.entries(c.registries)) {
    if (reg.redirect && c.storage.driver !== 's3') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['registries', name, 'redirect'], message: `blob redirects need storage.driver s3 (the redirect points at the object in the bucket, or a CDN in front of it); storage.driver is ${c.storage.driver}` });
    }
  }
  if (c.p2p?.scheduler && c.cluster) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['p2p'], message: 'p2p.scheduler (node mode) and cluster (a fleet on shared storage) exclude each other: a node is one instance on its own disk' });
  }
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
