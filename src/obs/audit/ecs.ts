import type { ObservedEvent } from '../pulls.js';
import type { Operation } from '../events.js';
import { toolOf } from '../tools.js';

/** ECS version the field names follow (https://www.elastic.co/guide/en/ecs/current/). */
export const ECS_VERSION = '8.11.0';

/** What an audit line says happened, in `event.action`. */
const ACTIONS: Record<Operation, string> = {
  ping: 'ping', manifest: 'manifest-read', blob: 'blob-read', tags: 'tag-list', catalog: 'catalog-list',
  referrers: 'referrers-list', upload: 'blob-push', manifest_put: 'manifest-push', delete: 'delete',
  token: 'token-grant', peer_blob: 'peer-blob-read', other: 'other',
};

function auditAction(e: ObservedEvent): string {
  if (e.pull) return 'image-pull';
  if (e.operation === 'token') return e.status < 400 ? 'token-grant' : 'token-refusal';
  return ACTIONS[e.operation];
}

// Fields left undefined are simply absent from the line: JSON.stringify omits them. (Deleting them
// instead would turn every document into a slow dictionary-mode object on the request path.)
const drop = <T>(o: T): T => o;

/**
 * One request event as an Elastic Common Schema document, so Filebeat (json parser) and Elasticsearch
 * take it as is. Only what the event holds is written: no headers, no query strings, so credentials
 * have no way in. Our own fields live under `regway.*`, as ECS asks for custom fields.
 */
export function toEcs(e: ObservedEvent): Record<string, unknown> {
  const isTag = e.reference !== undefined && !e.reference.includes(':');
  const image = e.repository ? `${e.registry ?? ''}${e.registry ? '/' : ''}${e.repository}` : undefined;
  return drop({
    '@timestamp': new Date(e.time).toISOString(),
    ecs: { version: ECS_VERSION },
    event: drop({
      kind: 'event', category: ['web'], type: ['access'], dataset: 'regway.audit', module: 'regway',
      action: auditAction(e),
      outcome: e.status < 400 ? 'success' : 'failure',
      // ECS durations are nanoseconds.
      duration: Math.round(e.durationMs * 1e6),
      start: new Date(e.time - e.durationMs).toISOString(),
      end: new Date(e.time).toISOString(),
    }),
    client: { ip: e.clientIp, address: e.clientIp },
    source: { ip: e.clientIp },
    user: e.user ? { name: e.user } : undefined,
    user_agent: e.userAgent ? { original: e.userAgent } : undefined,
    http: { request: { method: e.method }, response: { status_code: e.status, body: { bytes: e.bytes } } },
    container: image ? { image: drop({ name: image, tag: isTag ? [e.reference] : undefined, hash: e.digest ? { all: [e.digest] } : undefined }) } : undefined,
    error: e.errorCode ? { code: e.errorCode } : undefined,
    service: { name: 'regway', type: 'registry' },
    regway: drop({
      operation: e.operation, registry: e.registry, repository: e.repository, reference: e.reference, digest: e.digest,
      cache: e.cache, upstream: e.upstream, pull: e.pull ?? false, pull_failed: e.pullFailed, aborted: e.aborted || undefined,
      redirect: e.redirect ? { target: e.redirect, bytes: e.redirectedBytes ?? 0 } : undefined,
      tool: toolOf(e.userAgent),
      policy: e.policy ? { name: e.policy.policy, decision: e.policy.decision, reason: e.policy.reason } : undefined,
    }),
  });
}

/** A JSON value; never the bare word `undefined`, which would make the line unparseable. */
const q = (v: unknown): string => (v === undefined ? 'null' : JSON.stringify(v));

// ISO timestamps of one second share their first 20 characters ("2026-11-30T04:37:36."); building
// a Date and formatting it twice per audit line showed in the warm-hit profile.
let isoSecond = Number.NaN;
let isoPrefix = '';
/** `new Date(ms).toISOString()`, byte for byte, for times from 1970 to 9999 (else it falls back to Date). */
export function isoTime(ms: number): string {
  const t = Math.floor(ms); // Date truncates fractions of a millisecond the same way for t >= 0
  if (!(t >= 0 && t < 253402300800000)) return new Date(ms).toISOString();
  const sec = Math.floor(t / 1000);
  if (sec !== isoSecond) { isoSecond = sec; isoPrefix = new Date(sec * 1000).toISOString().slice(0, 20); }
  const milli = t - sec * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
const opt = (name: string, v: string | undefined): string => (v === undefined ? '' : `,${q(name)}:${q(v)}`);

/**
 * The same line as `JSON.stringify(toEcs(e))`, byte for byte (a test holds them equal), built
 * without the intermediate objects: it runs once per request on the response path, and the object
 * version cost more CPU than serving a warm manifest.
 */
export function ecsLine(e: ObservedEvent): string {
  const isTag = e.reference !== undefined && !e.reference.includes(':');
  const image = e.repository ? `${e.registry ?? ''}${e.registry ? '/' : ''}${e.repository}` : undefined;
  const end = isoTime(e.time);
  const ip = q(e.clientIp);
  let s = `{"@timestamp":"${end}","ecs":{"version":"${ECS_VERSION}"},"event":{"kind":"event","category":["web"],"type":["access"],"dataset":"regway.audit","module":"regway"`
    + `,"action":${q(auditAction(e))},"outcome":"${e.status < 400 ? 'success' : 'failure'}","duration":${Math.round(e.durationMs * 1e6)}`
    + `,"start":"${isoTime(e.time - e.durationMs)}","end":"${end}"}`
    + `,"client":{"ip":${ip},"address":${ip}},"source":{"ip":${ip}}`;
  if (e.user) s += `,"user":{"name":${q(e.user)}}`;
  if (e.userAgent) s += `,"user_agent":{"original":${q(e.userAgent)}}`;
  s += `,"http":{"request":{"method":${q(e.method)}},"response":{"status_code":${e.status},"body":{"bytes":${e.bytes}}}}`;
  if (image) {
    s += `,"container":{"image":{"name":${q(image)}`;
    if (isTag) s += `,"tag":[${q(e.reference)}]`;
    if (e.digest) s += `,"hash":{"all":[${q(e.digest)}]}`;
    s += '}}';
  }
  if (e.errorCode) s += `,"error":{"code":${q(e.errorCode)}}`;
  s += `,"service":{"name":"regway","type":"registry"},"regway":{"operation":${q(e.operation)}`
    + opt('registry', e.registry) + opt('repository', e.repository) + opt('reference', e.reference) + opt('digest', e.digest)
    + opt('cache', e.cache) + opt('upstream', e.upstream) + `,"pull":${e.pull ?? false}`
    + (e.pullFailed === undefined ? '' : `,"pull_failed":${e.pullFailed}`) + (e.aborted ? ',"aborted":true' : '')
    + (e.redirect ? `,"redirect":{"target":${q(e.redirect)},"bytes":${e.redirectedBytes ?? 0}}` : '') + opt('tool', toolOf(e.userAgent))
    + (e.policy ? `,"policy":{"name":${q(e.policy.policy)},"decision":${q(e.policy.decision)},"reason":${q(e.policy.reason)}}` : '') + '}}';
  return s;
}
