import { z } from 'zod';
import { isIP } from 'node:net';
import { duration, size, secret } from './primitives.js';

// The observability sections of the config (audit log, alerts, SLO, trusted proxies). Kept in their
// own module so schema.ts only gains four property lines; the top-level schema stays readable.

/** IP addresses or CIDRs, e.g. 10.0.0.0/8, 127.0.0.1, ::1. */
export const trustedProxiesSchema = z.array(z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined || !ip || !isIP(ip)) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (isIP(ip) === 4 ? 32 : 128);
}, { message: 'must be an IP address or CIDR, e.g. 10.0.0.0/8 or 127.0.0.1' })).default([]);

const retrySchema = {
  /** Attempts after the first one, with exponential backoff. */
  retries: z.number().int().nonnegative().default(5),
  timeout: duration.default('5s'),
};

export const auditSchema = z.object({
  enabled: z.boolean().default(true),
  /** JSON-lines file; default <storage.path>/_obs/audit/audit.jsonl. Empty string: no file. */
  path: z.string().optional(),
  /** Blob reads are audited too (they are never counted as pulls). */
  blobs: z.boolean().default(true),
  rotate: z.object({
    maxSize: size.default('100MiB'),
    /** Also rotate when the file is older than this; 0 = size only. */
    interval: duration.default('24h'),
    /** Rotated files kept; older ones are deleted. */
    keep: z.number().int().nonnegative().default(14),
  }).strict().default({}),
  /** Also write every audit line to stdout (for a log shipper reading the container's output). */
  stdout: z.boolean().default(false),
  http: z.object({
    url: secret,
    headers: z.record(z.string(), secret).default({}),
    /** Lines per POST (NDJSON body). */
    batch: z.number().int().positive().default(200),
    /** Lines held while the endpoint is slow or down; beyond it lines are dropped and counted. */
    queue: z.number().int().positive().default(10_000),
    ...retrySchema,
  }).strict().optional(),
}).strict().default({});

const rule = <T extends z.ZodRawShape>(shape: T) => z.object({ enabled: z.boolean().default(true), ...shape }).strict();

export const alertsSchema = z.object({
  /** One alert per rule and key (client, upstream...) per cooldown. */
  cooldown: duration.default('1h'),
  /** Recent alerts kept for GET /-/alerts. */
  keep: z.number().int().positive().default(200),
  rules: z.object({
    pullsPerClient: rule({ threshold: z.number().int().positive().default(100), window: duration.default('1h') }).default({}),
    failedLogins: rule({ threshold: z.number().int().positive().default(10), window: duration.default('15m') }).default({}),
    upstreamErrors: rule({
      ratio: z.number().gt(0).max(1).default(0.5),
      minRequests: z.number().int().positive().default(20),
      window: duration.default('5m'),
    }).default({}),
    cacheHitDrop: rule({
      /** Fires when the recent hit ratio is this much (absolute) below the baseline's. */
      drop: z.number().gt(0).max(1).default(0.3),
      window: duration.default('15m'),
      baseline: duration.default('6h'),
      minRequests: z.number().int().positive().default(50),
    }).default({}),
  }).strict().default({}),
  webhooks: z.array(z.object({
    url: secret,
    format: z.enum(['json', 'slack']).default('json'),
    headers: z.record(z.string(), secret).default({}),
  }).strict()).default([]),
  ...retrySchema,
}).strict().default({});

export const sloSchema = z.object({
  /** Pull success ratio target, in percent. */
  successTarget: z.number().gt(0).lt(100).default(99.95),
  /** Mean pull latency target (the manifest request that starts a pull). */
  latencyTarget: duration.default('500ms'),
  /** Requests of one client on one repository closer than this belong to the same pull. */
  pullSession: duration.default('60s'),
  /** How often the SLO buckets are saved under <storage.path>/_obs/. */
  persistInterval: duration.default('1m'),
}).strict().default({});

export type AuditConfig = z.infer<typeof auditSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type SloConfig = z.infer<typeof sloSchema>;
