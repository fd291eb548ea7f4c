import { z } from 'zod';
import { duration, size } from './primitives.js';

// Config for hosted repositories, client auth, TLS and limits: everything about serving clients rather than
// pulling from upstreams. Kept apart from schema.ts so the pull-through schema stays readable; schema.ts only mounts
// these sections.

/**
 * A repository glob: `*` one path segment, `**` any number; `{user}` is the authenticated user. A
 * registry host (with its port) may lead: `ghcr.io/org/**`, `registry.local:5000/**`.
 */
const pattern = z.string().min(1).regex(/^[a-z0-9._*{}/:-]+$/, 'a repository pattern uses lowercase names, "/", "*" (one segment), "**" (any) and {user}, optionally after a registry host, e.g. local/**, users/{user}/* or ghcr.io/org/**');

export const hostedSchema = z.object({
  /** Repository patterns served from local storage, e.g. ["local/**", "registry.corp.example/**"]. */
  repositories: z.array(pattern).default([]),
  /** Upload sessions untouched for this long are removed. */
  uploadTtl: duration.default('24h'),
  /** Online garbage collection of unreferenced blobs; 0 = only with `regway hosted gc`. */
  gcInterval: duration.default(0),
  /** Blobs uploaded within this window are kept even if no manifest references them yet. */
  gcGrace: duration.default('1h'),
  /** Largest accepted blob; 0 = no limit. A declared Content-Length over it is refused before any byte is read. */
  maxBlobSize: size.default(0),
  /** Upload sessions one user (or anonymous client address) may have open at once; 0 = no limit. */
  maxUploadSessions: z.number().int().nonnegative().default(50),
}).strict();

/** Repository actions, and two for the whole registry: `catalog`, and `observe` (status page, /metrics; never implied by '*'). */
const action = z.enum(['pull', 'push', 'delete', 'catalog', 'observe', '*']);

const accessRuleSchema = z.object({
  repositories: z.array(pattern).default(['**']),
  /** User names; "*" = any authenticated user. */
  users: z.array(z.string().min(1)).default([]),
  groups: z.array(z.string().min(1)).default([]),
  anonymous: z.boolean().default(false),
  actions: z.array(action).min(1),
}).strict();
export type AccessRuleConfig = z.infer<typeof accessRuleSchema>;

export const authSchema = z.object({
  /** bcrypt htpasswd file (manage it with `regway user`). */
  htpasswd: z.string().min(1).optional(),
  /** group -> members */
  groups: z.record(z.array(z.string())).default({}),
  /** Rules are additive; nothing is allowed unless a rule allows it. Default: authenticated users may do everything. */
  access: z.array(accessRuleSchema).optional(),
  /**
   * Who may pull every pull-through (cached) repository without a rule naming it: `anonymous`
   * (nodes pull through the cache without credentials), `authenticated`, or `rules` (only what
   * the access rules allow).
   */
  pullThrough: z.enum(['rules', 'anonymous', 'authenticated']).default('rules'),
  token: z.object({
    /** Realm URL sent in challenges; default: <scheme>://<Host of the request>/token. */
    realm: z.string().url().optional(),
    service: z.string().min(1).default('regway'),
    issuer: z.string().min(1).default('regway'),
    ttl: duration.default('5m'),
    refreshTtl: duration.default('30d'),
    /** PEM files; generated under <storage>/auth/ on first start when absent. */
    key: z.string().optional(),
    cert: z.string().optional(),
  }).strict().default({}),
}).strict();

export const tlsSchema = z.object({
  cert: z.string().min(1),
  key: z.string().min(1),
  /** HTTP/2 through ALPN with HTTP/1.1 fallback. */
  http2: z.boolean().default(true),
}).strict();

export const limitsSchema = z.object({
  /** Time allowed to receive the request headers (slowloris). */
  headersTimeout: duration.default('15s'),
  /** Time allowed for a whole request; 0 = none. Large uploads need long. */
  requestTimeout: duration.default('1h'),
  /** Longest silence on a connection, request or response. */
  idleTimeout: duration.default('60s'),
  keepAliveTimeout: duration.default('5s'),
  /** HTTP/2 streams one connection may have open at once (advertised in SETTINGS). */
  http2MaxStreams: z.number().int().positive().default(250),
  /** Requests in progress per client IP; 0 = no limit. */
  perClientConcurrency: z.number().int().nonnegative().default(0),
  /** Requests per second (sustained) and burst, per IP and per user; 0 = no limit. */
  ipRate: z.number().nonnegative().default(0),
  ipBurst: z.number().int().nonnegative().default(0),
  userRate: z.number().nonnegative().default(0),
  userBurst: z.number().int().nonnegative().default(0),
  /** Failed logins from one IP for one user before each next attempt must wait (doubling). */
  failedLogins: z.number().int().positive().default(5),
  /** Failed logins from one IP across all user names before it must wait too (guessing names). */
  failedLoginsPerClient: z.number().int().positive().default(20),
  failedLoginDelay: duration.default('1s'),
  failedLoginMaxDelay: duration.default('5m'),
}).strict();
export type LimitsConfig = z.infer<typeof limitsSchema>;
