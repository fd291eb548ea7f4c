import type { ObservedEvent } from '../pulls.js';
import type { Operation } from '../events.js';

/** ECS version the field names follow (https://www.elastic.co/guide/en/ecs/current/). */
export const ECS_VERSION = '8.11.0';

/** What an audit line says happened, in `event.action`. */
export function auditAction(e: ObservedEvent): string {
  if (e.pull) return 'image-pull';
  const byOp: Record<Operation, string> = {
    ping: 'ping', manifest: 'manifest-read', blob: 'blob-read', tags: 'tag-list', catalog: 'catalog-list',
    referrers: 'referrers-list', upload: 'blob-push', manifest_put: 'manifest-push', delete: 'delete',
    token: e.status < 400 ? 'token-grant' : 'token-refusal', other: 'other',
  };
  return byOp[e.operation];
}

const drop = <T extends Record<string, unknown>>(o: T): T => {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
};

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
    }),
  });
}
